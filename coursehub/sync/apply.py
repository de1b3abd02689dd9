"""Applying a sync plan with JupyterHub's bulk endpoints (see :mod:`coursehub.sync.plan` for the model)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from coursehub.access.groups import OWNER_PROPERTY
from coursehub.errors import EXIT_CHECK_FAILED, CoursehubError
from coursehub.manifest import Manifest
from coursehub.hub.client import HubClient, HubRequestError, HubUnavailable
from coursehub.sync.plan import (
    CREATE_BATCH,
    DEFAULT_BATCH,
    MANAGED_GROUP,
    MANAGED_PROPERTIES,
    Plan,
    check_token,
    desired_groups,
    make_plan,
    managed_properties,
    read_hub_state,
)

# --- applying ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """One item the hub refused."""

    action: str
    target: str
    items: tuple[str, ...]
    status: int
    message: str

    def format(self) -> str:
        what = f"{self.action} {self.target}" + (f" ({', '.join(self.items)})" if self.items else "")
        return f"{what}: {self.status} {self.message}"


@dataclass
class ApplyResult:
    failures: list[Failure] = field(default_factory=list)
    requests: int = 0


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or []


def _isolate(send: Callable[[list[str]], object], items: list[str], *, action: str, target: str) -> list[Failure]:
    """Send ``items`` in one request; if the hub refuses it (400/409), split until the refused items are found."""
    try:
        send(items)
        return []
    except HubRequestError as exc:
        if exc.status not in (400, 409) or len(items) == 1:
            return [Failure(action, target, tuple(items), exc.status, exc.message)]
    mid = len(items) // 2
    return _isolate(send, items[:mid], action=action, target=target) + _isolate(
        send, items[mid:], action=action, target=target
    )


def planned_steps(plan: Plan, *, batch: int = DEFAULT_BATCH) -> int:
    """How many bulk requests :func:`apply_plan` starts with (for a progress bar)."""
    n = len(_chunks(plan.create_groups, batch)) + len(_chunks(plan.create_users, min(batch, CREATE_BATCH)))
    n += bool(plan.create_users) + len(_chunks(plan.create_users + plan.mark_users, batch))
    n += sum(len(_chunks(v, batch)) for v in plan.add_members.values())
    n += sum(len(_chunks(v, batch)) for v in plan.remove_members.values())
    n += len(plan.set_properties) + (len(plan.delete_users) if plan.delete_enabled else 0)
    return n + bool((plan.create_users or plan.pending) and MANAGED_GROUP not in plan.set_properties)  # ``pending``


def apply_plan(
    client: HubClient, plan: Plan, *, batch: int = DEFAULT_BATCH, advance: Callable[[int], None] | None = None
) -> ApplyResult:
    """Make the changes in ``plan``, in an order that is safe to interrupt.

    Groups first, then users (announced in ``coursehub-managed``'s ``pending`` property, added to the
    names an earlier interrupted apply left there, before they are created one request at a time,
    then marked as managed), then members added and properties
    set, and only then members removed and, if enabled, users deleted. Refused items are collected
    in the result; the hub becoming unreachable raises :class:`~coursehub.hub.client.HubUnavailable`.
    """
    start = client.requests_made
    result = ApplyResult()
    tick = advance or (lambda n: None)
    failed_users: set[str] = set()

    def create_groups(names: list[str]) -> list[Failure]:
        def send(chunk: list[str]) -> None:
            try:
                client.request("POST", "/groups", json={"groups": chunk})
            except HubRequestError as exc:
                # 409: one of them appeared since we planned (or a retried request had worked); the
                # bulk form stops at the first existing name, so create the rest one by one
                if exc.status != 409:
                    raise
                for name in chunk:
                    try:
                        client.request("POST", f"/groups/{name}")
                    except HubRequestError as one:
                        if one.status != 409:
                            raise
        return _isolate(send, names, action="create group", target="")

    def create_users(chunk: list[str]) -> list[Failure]:
        def send(part: list[str]) -> None:
            try:
                client.request("POST", "/users", json={"usernames": part})
            except HubRequestError as exc:
                if exc.status != 409:  # 409 means all of them exist already: what we wanted
                    raise
        failures = _isolate(send, chunk, action="create users", target="")
        failed_users.update(u for f in failures for u in f.items)
        tick(1)
        return failures

    def members(method: str, action: str) -> Callable[[tuple[str, list[str]]], list[Failure]]:
        def run(job: tuple[str, list[str]]) -> list[Failure]:
            group, chunk = job
            chunk = [u for u in chunk if u not in failed_users]
            failures = []
            if chunk:
                failures = _isolate(
                    lambda part: client.request(method, f"/groups/{group}/users", json={"users": part}),
                    chunk, action=action, target=group,
                )
            tick(1)
            return failures
        return run

    def set_properties(job: tuple[str, dict]) -> list[Failure]:
        group, props = job
        try:
            client.request("PUT", f"/groups/{group}/properties", json=props)
            return []
        except HubRequestError as exc:
            return [Failure("set properties of", group, (), exc.status, exc.message)]
        finally:
            tick(1)

    def delete_user(name: str) -> list[Failure]:
        try:
            client.request("DELETE", f"/users/{name}")
            return []
        except HubRequestError as exc:
            if exc.status == 404:  # already gone
                return []
            return [Failure("delete user", name, (), exc.status, exc.message)]
        finally:
            tick(1)

    def jobs(changes: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
        return [(g, chunk) for g, users in sorted(changes.items()) for chunk in _chunks(users, batch)]

    def run_all(fn, items) -> None:
        for failures in client.map(fn, items):
            result.failures.extend(failures or [])

    try:
        for chunk in _chunks(plan.create_groups, batch):
            result.failures += create_groups(chunk)
            tick(1)
        # The record of users being created only grows until they are marked: an earlier apply that
        # was interrupted left its names there, and they stay until this one has marked them.
        recorded = set(plan.pending) | set(plan.create_users)
        base = {k: v for k, v in plan.set_properties.get(MANAGED_GROUP, MANAGED_PROPERTIES).items() if k != OWNER_PROPERTY}
        if plan.create_users:
            client.request("PUT", f"/groups/{MANAGED_GROUP}/properties", json=managed_properties(base, recorded))
            tick(1)
            for chunk in _chunks(plan.create_users, min(batch, CREATE_BATCH)):
                result.failures += create_users(chunk)
        # The names are in ``pending`` already, so marking can wait until every user exists. One
        # request at a time: each makes the hub load the whole marker group (20,000 members), and
        # concurrent ones only queue up inside the single-threaded hub until the proxy times out.
        marks = [u for u in plan.create_users if u not in failed_users] + plan.mark_users
        unmarked: set[str] = set()
        for chunk in _chunks(marks, batch):
            failures = members("POST", "add members to")((MANAGED_GROUP, chunk))
            unmarked.update(u for f in failures for u in f.items)
            result.failures += failures
        run_all(members("POST", "add members to"), jobs(plan.add_members))
        properties = dict(plan.set_properties)
        if recorded:
            # A name leaves the record once its user is marked, the hub refused to create it, or the plan
            # found it already marked or never created (the rest of plan.pending).
            settled = (set(marks) - unmarked) | failed_users | (set(plan.pending) - set(plan.mark_users) - set(plan.create_users))
            properties[MANAGED_GROUP] = managed_properties(base, recorded - settled)
        run_all(set_properties, sorted(properties.items()))
        run_all(members("DELETE", "remove members from"), jobs(plan.remove_members))
        if plan.delete_enabled:
            run_all(delete_user, plan.delete_users)
    finally:
        result.requests = client.requests_made - start
    return result


def sync(
    manifest: Manifest,
    *,
    client: HubClient,
    today: dt.date,
    apply: bool = False,
    delete_users: bool = False,
    batch: int = DEFAULT_BATCH,
    advance_factory: Callable[[int], Callable[[int], None]] | None = None,
) -> tuple[Plan, ApplyResult | None]:
    """Check the token, read the hub, plan, and (with ``apply``) apply. Returns the plan and the result.

    ``advance_factory(total)`` is called before applying with the number of planned steps and
    returns the progress callback.
    """
    check_token(client, apply=apply)
    desired = desired_groups(manifest, today=today)
    state = read_hub_state(client, desired)
    plan = make_plan(manifest, state, desired, today=today, delete_users=delete_users)
    if not apply or plan.empty:
        return plan, None
    advance = advance_factory(planned_steps(plan, batch=batch)) if advance_factory else None
    try:
        return plan, apply_plan(client, plan, batch=batch, advance=advance)
    except HubUnavailable as exc:
        raise HubUnavailable(
            f"{exc.message}. The apply stopped part-way; nothing the manifest needs was removed. "
            "Run sync --apply again once the hub answers: it plans from the hub's state and finishes the job"
        ) from None


def failure_error(result: ApplyResult) -> CoursehubError:
    """The error to exit with when the hub refused some items."""
    return CoursehubError(
        f"the hub refused {len(result.failures)} change(s); everything else was applied. Fix them and run sync again",
        exit_code=EXIT_CHECK_FAILED,
    )
