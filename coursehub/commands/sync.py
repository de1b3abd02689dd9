"""``coursehub sync``: show (and with --apply, make) the changes that bring a live hub to the manifest."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from coursehub.commands._shared import parse_today, ConcurrencyOpt, HubApiOpt, JsonOpt, ManifestArg, StrictOpt, TodayOpt, TokenFileOpt, Tracker, app, err, load, out

STATUS_TEXT = {"upcoming": "upcoming (provisioned early)", "ended": "ended (groups emptied)"}
#: How many names of a long list the table shows before "and N more" (--json has them all).
SHOWN = 8




def _names(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def plan_table(plan) -> Table:
    table = Table(title=f"sync plan for {plan.today.isoformat()}")
    for col in ("course", "kind", "term", "status", "users to create", "members to add", "members to remove"):
        table.add_column(col, no_wrap=col in ("course", "term"))
    for row in plan.courses:
        status = STATUS_TEXT.get(row["status"], row["status"])
        table.add_row(
            row["course"], row["kind"], row["term"], status,
            str(row["create_users"]), str(row["add_members"]), str(row["remove_members"]),
        )
    return table


ApplyOpt = Annotated[bool, typer.Option("--apply", help="Make the changes. Without it nothing on the hub changes.")]
DeleteOpt = Annotated[
    bool,
    typer.Option(
        "--delete-users",
        help="Also delete users sync created that no active course lists "
        "(their servers and, on most spawners, their files).",
    ),
]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout", metavar="SECONDS", min=1, max=600,
        help="Seconds to wait for the hub to answer one request; a request is retried for at most "
        "a minute in all (or one timeout, if longer).",
    ),
]
BatchOpt = Annotated[
    int,
    typer.Option(
        "--batch-size", min=1, max=5000, help="Usernames per bulk request (users are created at most 200 per request)."
    ),
]


@app.command()
def sync(
    manifest: ManifestArg,
    hub_api: HubApiOpt,
    token_file: TokenFileOpt = None,
    apply: ApplyOpt = False,
    delete_users: DeleteOpt = False,
    today: TodayOpt = None,
    json_out: JsonOpt = False,
    strict: StrictOpt = False,
    concurrency: ConcurrencyOpt = 4,
    batch_size: BatchOpt = 500,
    timeout: TimeoutOpt = 15,
):
    """Bring a live hub's users and coursehub's groups to the manifest (a plan; --apply makes it so).

    Creates the users and groups the courses need, adds and removes members, sets the groups'
    properties, and empties a course's groups after its term ends. Touches only coursehub's own
    groups; deletes users only with --delete-users. The token needs the coursehub-sync role's
    scopes (admin:users, admin:groups); planning alone needs list:users, list:groups, read:groups.
    """
    from coursehub.hub.client import HubClient, read_token
    from coursehub.sync.apply import failure_error
    from coursehub.sync.apply import sync as run_sync

    day = parse_today(today)
    model, warnings = load(manifest, strict=strict)
    skipped = [w for w in warnings if w.code in ("student-invalid", "student-duplicate")]
    client = HubClient(
        hub_api, token=read_token(token_file=token_file), concurrency=concurrency,
        timeout=timeout, retry_time=max(HubClient.DEFAULT_RETRY_TIME, timeout),
    )

    tracker = Tracker("sync")

    def advance_factory(total: int):
        tracker.status("applying the plan")
        tracker.set_total(total)
        return tracker.advance

    with tracker:
        tracker.status(f"reading users and groups from {hub_api}")
        plan, result = run_sync(
            model, client=client, today=day, apply=apply, delete_users=delete_users, batch=batch_size,
            advance_factory=advance_factory,
        )

    if json_out:
        data = plan.to_json()
        data["skipped_rows"] = [w.format() for w in skipped]
        data["applied"] = result is not None
        data["failures"] = [f.format() for f in result.failures] if result else []
        data["requests"] = client.requests_made
        out.print(json.dumps(data, indent=2, sort_keys=True), markup=False)
    else:
        out.print(plan_table(plan))
        if plan.empty:
            err.print("the hub matches the manifest: nothing to do")
        else:
            changes = (f"{n} {k.replace('_', ' ')}" for k, n in plan.counts().items() if n)
            err.print("plan: " + ", ".join(changes), markup=False)
        for conflict in plan.conflicts:
            err.print(f"conflict: {conflict}", style="yellow", markup=False)
        if plan.delete_users and not delete_users:
            n = len(plan.delete_users)
            err.print(f"--delete-users would delete {n} user(s): {_names(plan.delete_users)}", markup=False)
        if skipped:
            n = len(skipped)
            err.print(f"skipped {n} bad roster row(s), listed above (--strict makes them fatal)", style="yellow")
    if result is not None:
        for failure in result.failures:
            err.print(f"failed: {failure.format()}", style="red", markup=False)
        err.print(f"applied with {result.requests} requests ({client.requests_made} in all)", markup=False)
        if result.failures:
            raise failure_error(result)
    elif apply:
        err.print(f"nothing to apply ({client.requests_made} requests)", style="green")
    elif not plan.empty:
        n = client.requests_made
        err.print(f"dry run ({n} requests): nothing changed; add --apply to make these changes", markup=False)
