"""``coursehub hub up``: the manifest on a real local JupyterHub, to try it as a student or instructor."""

from __future__ import annotations

import socket
import tempfile
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from coursehub.commands._shared import TodayOpt, parse_today, ManifestArg, err, hub_app, load, out


ENFORCEMENT_NOTE = (
    "Each server gets its course's limits in its environment (MEM_LIMIT, CPU_LIMIT), default URL and idle "
    "culling, but nothing enforces the limits on local processes: the single-machine (systemd) and "
    "Kubernetes targets do."
)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@hub_app.command("up")
def up(
    manifest: ManifestArg,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 for the hub.")] = 8000,
    workdir: Annotated[
        Optional[Path], typer.Option("--workdir", help="Keep the hub's database and the users' homes here (default: a temporary folder).")
    ] = None,
    today: TodayOpt = None,
    lms: Annotated[
        bool, typer.Option("--lms", help="Sign in only from the LMS (the manifest's hub.lms, LTI) instead of the demo password.")
    ] = False,
):
    """Start a JupyterHub on 127.0.0.1 with the manifest's courses, users, groups and staff roles.

    Everyone logs in with the demo password (with --lms: only by a launch from the LMS). Prints the URL,
    a student and an instructor to log in as, and an assignment link that pulls the course's local
    content. Runs until Ctrl-C.
    """
    from coursehub.errors import CoursehubError
    from coursehub.hub.local import ContentServer, demo_guide, start_local_hub

    day = parse_today(today)
    model, _ = load(manifest)
    if not _port_free(port):
        raise CoursehubError(f"port {port} on 127.0.0.1 is in use; choose another with --port", exit_code=2)
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="coursehub-hub-")
        workdir = Path(tmp.name)
    content = hub = None
    try:
        with err.status("preparing course content …"):
            content = ContentServer(model, Path(workdir) / "content")
        with err.status(f"starting JupyterHub on 127.0.0.1:{port} …"):
            hub = start_local_hub(
                model, workdir=Path(workdir) / "hub", port=port, extra_env={"COURSEHUB_TODAY": day.isoformat()} if today else None, lms=lms
            )
        guide = demo_guide(model, hub, content, today=day)
        lines = [f"{model.hub.name} is running at {guide['url']}  (Ctrl-C stops it)", ""]
        if lms:
            from coursehub.lms.tool import tool_urls

            urls = tool_urls(guide["url"], model.hub.lms.version)
            lines += [f"  sign in from the LMS only; register the tool with: {', '.join(f'{k} {v}' for k, v in urls.items())}"]
        else:
            lines += [f"  password (everyone): {guide['password']}"]
        if "course" in guide:
            state = "" if guide["in_term"] else f" (not in term on {day}: its settings and roles do not apply)"
            lines += [
                f"  student:    {guide['student']}  in {guide['course']}, {guide['title']}{state}",
                f"  instructor: {guide['instructor']}  sees {guide['course']}'s students at {guide['admin']}",
            ]
        if "link" in guide:
            lines += [f"  assignment: {guide['assignment']} (log in as the student, then open)", f"    {guide['link']}"]
        lines += ["", ENFORCEMENT_NOTE]
        for line in lines:
            out.print(line, markup=False, highlight=False, soft_wrap=True)
        while hub.process.poll() is None:
            time.sleep(0.5)
        raise CoursehubError(f"the hub stopped (status {hub.process.returncode}); see {hub.log_path}", exit_code=1)
    except KeyboardInterrupt:
        err.print("stopping the hub …")
    finally:
        if hub:
            hub.stop()
        if content:
            content.stop()
        if tmp:
            tmp.cleanup()



