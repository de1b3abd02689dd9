"""``coursehub link`` (build one nbgitpuller link) and ``coursehub links check`` (are the links' files there)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from coursehub.commands._shared import ManifestArg, app, err, links_app, load, out



@app.command()
def link(
    hub: Annotated[Optional[str], typer.Option("--hub", metavar="URL", help="The JupyterHub's base URL (https://hub.example.edu).")] = None,
    repo: Annotated[str, typer.Option("--repo", metavar="URL", help="Clone URL of the content repository.")] = ...,
    branch: Annotated[Optional[str], typer.Option("--branch", metavar="BRANCH", help="Branch to pull; default: the repository's default branch.")] = None,
    path: Annotated[Optional[str], typer.Option("--path", metavar="FILE", help="The file (or Shiny app folder) inside the repository to open.")] = None,
    interface: Annotated[
        Optional[str], typer.Option("--interface", metavar="[lab|notebook|rstudio|shiny|vscode]", help="The interface to open (default lab).")
    ] = None,
    urlpath: Annotated[
        Optional[str], typer.Option("--urlpath", metavar="PATH", help="Custom path to open on the student's server, instead of --interface/--path.")
    ] = None,
    targetpath: Annotated[
        Optional[str], typer.Option("--targetpath", metavar="DIR", help="Folder in the student's home to clone into; default: the repository's name.")
    ] = None,
    server: Annotated[Optional[str], typer.Option("--server", metavar="NAME", help="Open on this named server (JupyterHub naming rules).")] = None,
    launch: Annotated[
        str,
        typer.Option(
            "--launch",
            metavar="[hub|lti|binder]",
            help="hub, lti (the launch URL an LMS stores for the tool, LTI 1.1 and 1.3; canvas is an alias) or binder.",
        ),
    ] = "hub",
    binder_url: Annotated[Optional[str], typer.Option("--binder-url", metavar="URL", help="BinderHub URL for --launch binder.")] = None,
    env_repo: Annotated[
        Optional[str], typer.Option("--env-repo", metavar="URL", help="For binder: the repository whose image the content is pulled into.")
    ] = None,
    env_branch: Annotated[Optional[str], typer.Option("--env-branch", metavar="BRANCH", help="For binder: the environment repository's branch (default HEAD).")] = None,
    qr: Annotated[Optional[Path], typer.Option("--qr", metavar="FILE", help="Also write a QR code of the link to FILE.svg or FILE.png.")] = None,
):
    """Print an nbgitpuller link that opens the given file; corrections and warnings go to stderr."""
    from coursehub.errors import CoursehubError
    from coursehub.links import qr as qrcode
    from coursehub.links.url import build_link

    result = build_link(
        hub=hub,
        repo=repo,
        branch=branch,
        path=path,
        interface=interface,
        urlpath=urlpath,
        targetpath=targetpath,
        server=server,
        launch=launch,
        binder_url=binder_url,
        env_repo=env_repo,
        env_branch=env_branch,
    )
    for warning in result.warnings:
        err.print(f"warning: {warning}", style="yellow", markup=False)
    if qr is not None:
        if qr.suffix.lower() not in (".svg", ".png"):
            raise CoursehubError(f"--qr writes .svg or .png files, not {qr.name}")
        qrcode.write(result.url, qr)
        err.print(f"wrote QR code to {qr}", style="dim", markup=False)
    sys.stdout.write(result.url + "\n")


@links_app.command("check")
def check(
    manifest: ManifestArg,
    course: Annotated[Optional[list[str]], typer.Option("--course", metavar="COURSE", help="Check only this course (repeatable).")] = None,
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="Check against each course's local copy (content.local), served over git on 127.0.0.1 as the demo "
            "serves it, instead of the real repositories: offline, and before the content is pushed.",
        ),
    ] = False,
    cache_dir: Annotated[
        Optional[Path], typer.Option("--cache-dir", metavar="DIR", help="Where fetched repositories are cached (default ~/.cache/coursehub/links).")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="Repositories checked at the same time.")] = 4,
    timeout: Annotated[float, typer.Option("--timeout", metavar="SECONDS", min=1, help="Seconds allowed for each git command.")] = 60,
):
    """Check every assignment link: repository reachable, branch exists, file on the branch. Exit 1 if any is broken."""
    import tempfile
    from contextlib import ExitStack

    from rich.table import Table

    from coursehub.commands._shared import Tracker
    from coursehub.errors import EXIT_CHECK_FAILED, CoursehubError
    from coursehub.links.check import by_repository, check_links

    model, _ = load(manifest)
    shown: dict[str, str] = {}  # repository checked -> what the table calls it
    with ExitStack() as stack, Tracker("links check") as tracker:
        repo_for = None
        if local:
            from coursehub.hub.local import ContentServer

            tracker.status("making git repositories of the local content")
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="coursehub-links-")))
            server = ContentServer(model, scratch / "repos")
            stack.callback(server.stop)
            cache_dir = cache_dir or scratch / "cache"  # local URLs change every run: keep their fetches out of the cache

            def repo_for(c):
                url = server.repo_url(c.id)
                if url:
                    shown[url] = f"{c.content.repo} (local copy: {c.content.local})"
                return url

        def progress(done: int, total: int, waiting: list[str]) -> None:
            tracker.total, tracker.done = total, done
            names = [shown.get(w, w) for w in waiting]
            tracker.status(f"waiting on {names[0]}" + (f" and {len(names) - 1} more" if len(names) > 1 else "") if names else "")

        results = check_links(
            model, courses=course, cache_dir=cache_dir, jobs=jobs, timeout=timeout, progress=progress, repo_for=repo_for
        )
    broken = [r for r in results if not r.ok]
    groups = by_repository(results)
    table = Table(title=f"{len(results)} assignment links in {len(groups)} repositories, {len(broken)} broken")
    for col in ("repository", "branch", "assignments", "status"):
        table.add_column(col)
    for repo, branch, reasons in groups:
        for i, (reason, checks) in enumerate(reasons):
            table.add_row(
                shown.get(repo, repo) if i == 0 else "",
                branch if i == 0 else "",
                ", ".join(f"{c.course}/{c.assignment}" for c in checks),
                f"BROKEN: {reason}" if reason else "ok",
                style="red" if reason else None,
            )
    out.print(table)
    if broken:
        raise CoursehubError(f"{len(broken)} of {len(results)} links are broken", exit_code=EXIT_CHECK_FAILED)
    err.print("every link's file is on its branch", style="green")


app.command("link")(link)
