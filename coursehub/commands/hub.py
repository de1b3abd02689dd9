"""``coursehub hub up``: the manifest on a real local JupyterHub, to try it as a student or instructor."""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from coursehub.commands._shared import TodayOpt, parse_today, ManifestArg, err, hub_app, load, out
from coursehub.errors import CoursehubError


ENFORCEMENT_NOTE = (
    "Each server gets its course's limits in its environment (MEM_LIMIT, CPU_LIMIT), default URL and idle "
    "culling, but nothing enforces the limits on local processes: the single-machine (systemd) and "
    "Kubernetes targets do."
)
#: The signals that stop ``hub up`` (and everything it started). SIGINT is Ctrl-C.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _Stopped(Exception):
    """``hub up`` received one of :data:`STOP_SIGNALS`."""


def port_in_use(port: int) -> CoursehubError:
    """The error for a port that is taken, saying by what and, for a coursehub hub, how to free it."""
    from coursehub.hub.local import port_holders

    holders = port_holders(port)
    ours = [h for h in holders if h.mark]
    if ours:
        holder = ours[0]
        pids = " ".join(str(pid) for pid in holder.hub_processes or (holder.pid,))
        state = "a coursehub hub that is still running" if holder.hub_alive else "a coursehub hub that is no longer running"
        return CoursehubError(
            f"port {port} on 127.0.0.1 is held by {holder.name} (pid {holder.pid}), left by {state} "
            f"({len(holder.hub_processes)} processes of it remain); free the port with `kill {pids}`, "
            "or choose another with --port",
            exit_code=2,
        )
    if holders:
        return CoursehubError(
            f"port {port} on 127.0.0.1 is in use by {holders[0].name} (pid {holders[0].pid}); choose another with --port",
            exit_code=2,
        )
    return CoursehubError(f"port {port} on 127.0.0.1 is in use; choose another with --port", exit_code=2)


def _keep_log(log_path: Path, port: int) -> Path | None:
    """Copy a failed hub's log out of the temporary folder that is about to be removed."""
    if not log_path.exists():
        return None
    fd, kept = tempfile.mkstemp(prefix=f"coursehub-hub-{port}-", suffix=".log")
    with open(fd, "wb") as f, open(log_path, "rb") as log:
        shutil.copyfileobj(log, f)
    return Path(kept)


def guide_lines(
    guide, *, day: dt.date, manifest_arg: str, token_file: Path | None, api_url: str, password: bool = True
) -> list[str]:
    """The lines ``hub up`` prints once the hub answers (the logins never advise what the hub refuses)."""
    lines = [f"  password (everyone): {guide.password}"] if password else []
    if guide.student:
        courses = " and ".join(guide.student_courses)
        per = ", one server per course" if len(guide.student_courses) > 1 else ""
        state = "" if guide.student_in_term else f" (not all in term on {day}: out of term a server gets the hub's defaults)"
        lines.append(f"  student:    {guide.student}  in {courses}{per}{state}")
    if guide.course and guide.in_term:
        lines.append(f"  instructor: {guide.instructor}  sees {guide.course}'s students and starts their servers at {guide.admin_page}")
        if guide.ta:
            lines.append(f"  TA:         {guide.ta}  sees {guide.course}'s students and opens their servers at {guide.admin_page}")
    elif guide.course:
        staff = " and ".join(n for n in (guide.instructor, guide.ta) if n)
        lines.append(
            f"  staff:      {staff} can log in, but {guide.course} is not in term on {day}: "
            "its staff roles are granted to nobody, so they see none of its students"
        )
    if guide.admin:
        lines.append(f"  admin:      {guide.admin}  every user, group and server at {guide.admin_page}")
    if guide.links:
        lines.append("  assignments (log in as the student, then open each; each opens its course's own server):")
        for course_id, title, url in guide.links:
            lines += [f"    {title} ({course_id})", f"    {url}"]
    if token_file:
        lines += [
            "  roster sync (the coursehub-sync service's token, in a file only you can read):",
            f"    coursehub sync {manifest_arg} --hub-api {api_url} --token-file {token_file}",
        ]
    return lines


@hub_app.command("up")
def up(
    manifest: ManifestArg,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 for the hub.")] = 8000,
    workdir: Annotated[
        Optional[Path], typer.Option("--workdir", help="Keep the hub's database, log and the users' homes here (default: a temporary folder).")
    ] = None,
    today: TodayOpt = None,
    lms: Annotated[
        bool, typer.Option("--lms", help="Sign in only from the LMS (the manifest's hub.lms, LTI) instead of the demo password.")
    ] = False,
):
    """Start a JupyterHub on 127.0.0.1 with the manifest's courses, users, groups and staff roles.

    Everyone logs in with the demo password (with --lms: only by a launch from the LMS). Prints the URL,
    the hub's log, a student, an instructor, a TA and an admin to log in as, assignment links that pull
    the courses' local content, and how to try `coursehub sync` against the hub. Runs until Ctrl-C,
    SIGTERM or SIGHUP, which stop the hub, its proxy, the single-user servers and their kernels.
    """
    from coursehub.hub.local import SYNC_TOKEN_FILE, ContentServer, HubFailed, demo_guide, port_is_free, start_local_hub

    day = parse_today(today)
    model, _ = load(manifest)
    if not port_is_free(port):
        raise port_in_use(port)

    def stop(signum, frame):
        raise _Stopped(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="coursehub-hub-")
        workdir = Path(tmp.name)
    workdir = Path(workdir).resolve()
    log_path = workdir / "hub" / "jupyterhub.log"
    content = hub = None
    failed = False
    try:
        with err.status("preparing course content …"):
            content = ContentServer(model, workdir / "content")
        kept = "removed when the hub stops, kept if it fails" if tmp else "kept"
        err.print(f"hub log: {log_path}  ({kept})", markup=False, highlight=False)
        with err.status(f"starting JupyterHub on 127.0.0.1:{port} …"):
            hub = start_local_hub(
                model, workdir=workdir / "hub", port=port, extra_env={"COURSEHUB_TODAY": day.isoformat()} if today else None, lms=lms
            )
        token_file = hub.write_sync_token(workdir / SYNC_TOKEN_FILE) if hub.sync_token else None
        guide = demo_guide(model, hub, content, today=day)
        lines = [f"{model.hub.name} is running at {guide.url}  (Ctrl-C stops it)", f"  hub log: {hub.log_path}", ""]
        if lms:
            from coursehub.lms.tool import tool_urls

            urls = tool_urls(guide.url, model.hub.lms.version)
            lines += [f"  sign in from the LMS only; register the tool with: {', '.join(f'{k} {v}' for k, v in urls.items())}"]
        lines += guide_lines(guide, day=day, manifest_arg=str(manifest), token_file=token_file, api_url=hub.api_url, password=not lms)
        lines += ["", ENFORCEMENT_NOTE]
        for line in lines:
            out.print(line, markup=False, highlight=False, soft_wrap=True)
        while hub.process.poll() is None:
            time.sleep(0.5)
        failed = True
        raise CoursehubError(f"the hub stopped on its own (status {hub.process.returncode})", exit_code=1)
    except _Stopped as stopped:
        err.print(f"stopping the hub ({stopped}) …")
    except KeyboardInterrupt:
        err.print("stopping the hub …")
    except HubFailed:
        failed = True
        raise
    finally:
        # a second signal must not cut the clean-up short
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        try:
            if hub:
                hub.stop()
            if content:
                content.stop()
            if failed:
                saved = _keep_log(log_path, port) if tmp else log_path
                if saved:
                    err.print(f"the hub's log is kept at {saved}", markup=False, highlight=False)
            if tmp:
                tmp.cleanup()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
