"""Grade passback over LTI 1.3 Assignment and Grade Services (AGS): ``coursehub grades push``.

One assignment's ``grades.csv`` (written by ``coursehub grade``) becomes one *line item* in the LMS
course and one *score* per student:

1. the tool gets an access token from the platform's token URL with OAuth2 client credentials,
   authenticating with a JWT assertion signed by its private key (IMS Security Framework, section 4.1);
   the platform checks it against the public JWK of the tool's registration (``hub/lti/``);
2. it finds the assignment's line item in the course's line items container (``resourceId``
   ``<course>/<assignment>``, ``tag`` ``coursehub``), or creates it with the assignment's title and
   points;
3. it reads the line item's results and posts a score only for students whose result differs, so a
   second run sends nothing and the LMS keeps one score per student.

Students are addressed by their LMS user id, which the hub records when they launch the course from the
LMS (the ``lms_user_ids`` property of ``lti-<course>-students``); a student who never launched it has
none and is listed, not guessed.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from coursehub.access.groups import launch_group_name
from coursehub.errors import CoursehubError
from coursehub.grading.gradebook import GRADES_ROOT, assignment_folder, read_grades_csv
from coursehub.grading.gradebook import GradeRow as Grade
from coursehub.grading.results import GRADES_CSV
from coursehub.lms.keys import public_jwk

SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
)
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
CONTAINER_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
RESULTS_TYPE = "application/vnd.ims.lis.v2.resultcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
TAG = "coursehub"


def default_grades_file(course_id: str, assignment_id: str) -> Path:
    """Where ``coursehub grade`` writes an assignment's grades by default."""
    return assignment_folder(GRADES_ROOT, course_id, assignment_id) / GRADES_CSV


def read_grades(path: Path) -> list[Grade]:
    """The rows of a ``grades.csv`` (read by :func:`coursehub.grading.gradebook.read_grades_csv`)."""
    return list(read_grades_csv(path).values())


def lms_user_ids(hub_client, course_id: str) -> dict[str, str]:
    """Username -> LMS user id of the course's students, as the hub recorded them at launch."""
    from coursehub.hub.client import HubRequestError

    try:
        group = hub_client.request("GET", f"/groups/{launch_group_name(course_id, 'students')}")
    except HubRequestError as exc:
        if exc.status == 404:
            return {}  # nobody has launched the course from the LMS yet
        raise CoursehubError(
            f"the hub refused reading the group {exc.path.rsplit('/', 1)[-1]} ({exc.status} {exc.message}); "
            "the token needs read:groups"
        ) from None
    meta = (group.get("properties") or {}).get("coursehub") or {}
    return {str(k): str(v) for k, v in (meta.get("lms_user_ids") or {}).items()}


def _sub_url(url: str, tail: str) -> str:
    """``<line item>/<tail>``, keeping a query the line item URL may carry (AGS allows one)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + tail))


class AgsClient:
    """The platform's token endpoint and AGS service, as the tool (client credentials, JWT assertion)."""

    def __init__(self, *, token_url: str, client_id: str, private_key, timeout: float = 30):
        self.token_url = token_url
        self.client_id = client_id
        self._key = private_key
        self._kid = public_jwk(private_key.public_key())["kid"]
        self._token: str | None = None
        self.timeout = timeout
        self.session = requests.Session()
        self.requests_made = 0

    def __repr__(self) -> str:  # neither the key nor the token ever appears
        return f"AgsClient({self.token_url!r}, client_id={self.client_id!r})"

    def assertion(self) -> str:
        import jwt

        now = int(time.time())
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": self.token_url, "iat": now, "exp": now + 300,
                  "jti": uuid.uuid4().hex}
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self._kid})

    def token(self) -> str:
        if self._token is None:
            form = {
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": self.assertion(),
                "scope": " ".join(SCOPES),
            }
            r = self._send("POST", self.token_url, data=form, auth=False)
            token = r.json().get("access_token") if r.headers.get("Content-Type", "").startswith("application/json") else None
            if not token:
                raise CoursehubError(f"the LMS token endpoint {self.token_url} gave no access token")
            self._token = token
        return self._token

    def _send(self, method: str, url: str, *, auth: bool = True, headers: dict | None = None, **kwargs) -> requests.Response:
        headers = dict(headers or {})
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        self.requests_made += 1
        try:
            r = self.session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise CoursehubError(f"the LMS did not answer {method} {url} ({type(exc).__name__}); run again") from None
        if r.status_code >= 400:
            detail = ""
            try:
                body = r.json()
                detail = str(body.get("error_description") or body.get("error") or "")[:200] if isinstance(body, dict) else ""
            except ValueError:
                pass
            raise CoursehubError(f"the LMS refused {method} {url}: {r.status_code} {detail}".rstrip())
        return r

    def find_lineitem(self, lineitems_url: str, resource_id: str) -> dict | None:
        r = self._send("GET", lineitems_url, params={"resource_id": resource_id, "tag": TAG}, headers={"Accept": CONTAINER_TYPE})
        items = [i for i in r.json() if i.get("resourceId") == resource_id and i.get("tag") == TAG]
        return items[0] if items else None

    def create_lineitem(self, lineitems_url: str, item: dict) -> dict:
        r = self._send("POST", lineitems_url, json=item, headers={"Content-Type": LINEITEM_TYPE, "Accept": LINEITEM_TYPE})
        created = r.json()
        if not created.get("id"):
            raise CoursehubError("the LMS created the line item but did not say its URL (id)")
        return created

    def results(self, lineitem_url: str) -> dict[str, tuple[float | None, float | None]]:
        """userId -> (resultScore, resultMaximum) of every result the line item has."""
        r = self._send("GET", _sub_url(lineitem_url, "results"), headers={"Accept": RESULTS_TYPE})
        return {str(x["userId"]): (x.get("resultScore"), x.get("resultMaximum")) for x in r.json() if "userId" in x}

    def post_score(self, lineitem_url: str, score: dict) -> None:
        self._send("POST", _sub_url(lineitem_url, "scores"), json=score, headers={"Content-Type": SCORE_TYPE})


@dataclass
class ScoreChange:
    """What happens to one student's score."""

    student: str
    user_id: str | None
    score: float
    max: float
    status: str
    action: str  # send | unchanged | no LMS user id | no points possible

    def payload(self, timestamp: str) -> dict:
        body = {
            "userId": self.user_id,
            "scoreGiven": self.score,
            "scoreMaximum": self.max,
            "activityProgress": "Completed" if self.status != "missing" else "Initialized",
            "gradingProgress": "FullyGraded",
            "timestamp": timestamp,
        }
        if self.status != "graded":
            body["comment"] = f"coursehub: {self.status}"
        return body


@dataclass
class PushPlan:
    """The line item (found, or to be created) and every student's change."""

    course: str
    assignment: str
    lineitems_url: str
    lineitem: dict
    create: bool
    changes: list[ScoreChange] = field(default_factory=list)

    def to_send(self) -> list[ScoreChange]:
        return [c for c in self.changes if c.action == "send"]

    def to_json(self) -> dict:
        return {
            "course": self.course,
            "assignment": self.assignment,
            "lineitem": self.lineitem,
            "create_lineitem": self.create,
            "scores": [
                {"student": c.student, "user_id": c.user_id, "score": c.score, "max": c.max, "status": c.status, "action": c.action}
                for c in self.changes
            ],
        }


def _same(result: tuple[float | None, float | None] | None, score: float, maximum: float) -> bool:
    # Platforms keep results on the line item's scale (Canvas: points), so compare the fractions.
    if result is None or result[0] is None:
        return False
    given, res_max = result
    return abs(float(given) / float(res_max or 1) - score / maximum) < 1e-9


def plan_push(manifest, course_id: str, assignment_id: str, grades: list[Grade], user_ids: dict[str, str], ags: AgsClient) -> PushPlan:
    """Read the line item and its results from the LMS; decide what to create and which scores to send."""
    course = manifest.course(course_id)
    assignment = course.assignment(assignment_id)
    lineitems = course.lms.lineitems if course.lms is not None else None
    if not lineitems:
        raise CoursehubError(
            f"{course_id} has no `lms.lineitems` URL in the manifest; copy it from a launch's AGS claim "
            "(Canvas: https://<canvas>/api/lti/courses/<course id>/line_items)"
        )
    resource_id = f"{course_id}/{assignment_id}"
    maximum = assignment.points if assignment.points else max((g.max for g in grades), default=0) or 1
    found = ags.find_lineitem(lineitems, resource_id)
    lineitem = found or {"scoreMaximum": maximum, "label": assignment.title or assignment.id, "resourceId": resource_id, "tag": TAG}
    results = ags.results(found["id"]) if found else {}
    changes = []
    for g in sorted(grades, key=lambda g: g.student):
        uid = user_ids.get(g.student)
        if uid is None:
            action = "no LMS user id"
        elif g.max <= 0:
            action = "no points possible"
        else:
            action = "unchanged" if _same(results.get(uid), g.score, g.max) else "send"
        changes.append(ScoreChange(g.student, uid, g.score, g.max, g.status, action))
    return PushPlan(course_id, assignment_id, lineitems, lineitem, found is None, changes)


def apply_push(plan: PushPlan, ags: AgsClient, *, now: dt.datetime | None = None) -> int:
    """Create the line item if needed and send the changed scores; returns how many were sent."""
    if plan.create:
        plan.lineitem = ags.create_lineitem(plan.lineitems_url, plan.lineitem)
        plan.create = False
    stamp = (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="milliseconds")
    sent = 0
    for change in plan.to_send():
        ags.post_score(plan.lineitem["id"], change.payload(stamp))
        change.action = "sent"
        sent += 1
    return sent
