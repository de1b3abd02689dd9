"""``coursehub grades push``: one assignment's grades to the LMS over LTI 1.3 Assignment and Grade Services."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from coursehub.commands._shared import (
    AssignmentArg,
    CourseArg,
    HubApiOpt,
    JsonOpt,
    ManifestArg,
    TokenFileOpt,
    err,
    grades_app,
    load,
    out,
)


@grades_app.command("push")
def push(
    manifest: ManifestArg,
    course: CourseArg,
    assignment: AssignmentArg,
    hub_api: HubApiOpt,
    grades: Annotated[
        Optional[Path], typer.Option("--grades", help="The grades.csv to send; default: grades/<course>/<assignment>/grades.csv.")
    ] = None,
    key_file: Annotated[
        Optional[Path],
        typer.Option("--key-file", help="The tool's private key (PEM); default: hub.lms.lti13.private_key_file, else its private_key_env."),
    ] = None,
    token_file: TokenFileOpt = None,
    apply: Annotated[bool, typer.Option("--apply", help="Send the scores (without it: only show what would be sent).")] = False,
    as_json: JsonOpt = False,
):
    """Post each student's score to the assignment's line item in the LMS (created if needed).

    Without --apply nothing is sent: the LMS's line item and results are read and the scores that
    differ are listed. Students are matched by the LMS user id the hub recorded when they launched the
    course (read with a hub API token that has read:groups). A second run sends nothing new.
    """
    from rich.table import Table
    from rich.text import Text

    from coursehub.errors import CoursehubError
    from coursehub.lms.ags import AgsClient, apply_push, default_grades_file, lms_user_ids, plan_push, read_grades
    from coursehub.lms.keys import load_private_key
    from coursehub.hub.client import HubClient, read_token

    model, _ = load(manifest)
    lms = model.hub.lms
    if lms is None or lms.lti13 is None:
        raise CoursehubError("grades push needs LTI 1.3 (hub.lms.lti13): LTI 1.1 has no line items")
    if not lms.lti13.token_url:
        raise CoursehubError("hub.lms.lti13.token_url is not set; copy the platform's OAuth2 token URL into the manifest")
    rows = read_grades(grades or default_grades_file(course, assignment))
    key_path = key_file or (Path(model.source).parent / lms.lti13.private_key_file if lms.lti13.private_key_file else None)
    key = load_private_key(file=key_path, env=lms.lti13.private_key_env)
    ags = AgsClient(token_url=lms.lti13.token_url, client_id=lms.lti13.client_id, private_key=key)
    user_ids = lms_user_ids(HubClient(hub_api, token=read_token(token_file=token_file)), course)
    plan = plan_push(model, course, assignment, rows, user_ids, ags)
    sent = apply_push(plan, ags) if apply else 0
    if as_json:
        sys.stdout.write(json.dumps({**plan.to_json(), "applied": apply, "sent": sent}, indent=2, sort_keys=True) + "\n")
    else:
        item = plan.lineitem.get("id") or "(to be created)"
        table = Table(title=Text(f"{course}/{assignment} -> {item}"))
        for col in ("student", "LMS user", "score", "max", "status", "action"):
            table.add_column(col)
        for c in plan.changes:
            table.add_row(*(Text(str(v)) for v in (c.student, c.user_id or "-", f"{c.score:g}", f"{c.max:g}", c.status, c.action)))
        out.print(table)
    pending = len(plan.to_send())
    unknown = sum(1 for c in plan.changes if c.user_id is None)
    if unknown:
        err.print(f"{unknown} student(s) have no LMS user id: they have not launched {course} from the LMS yet", style="yellow", markup=False)
    if apply:
        err.print(f"sent {sent} score(s); the LMS now has this assignment's grades", style="green", markup=False)
    else:
        create = "create the line item and " if plan.create else ""
        err.print(f"dry run: would {create}send {pending} score(s); run again with --apply to send them", markup=False)
