"""The ``links`` build family: every assignment's nbgitpuller link, per course, ready to hand out.

For each course with content and assignments it writes ``links/<course>/links.csv`` (for an LMS
import or a spreadsheet), ``links.md``, a printable ``index.html`` with a QR code per link (for a lab
slide or a printed handout) and ``qr/<assignment>.svg``; ``links/index.md`` lists every course.
Links come from :func:`assignment_link`: the manifest's hub URL, the course's content repository,
branch and target path, the course's effective interface and the course's own named server
(``/hub/user-redirect/<course>/git-pull?...``; the hub runtime starts that server if needed).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from coursehub import emit, escape
from coursehub.build import BuildContext
from coursehub.errors import CoursehubError
from coursehub.access.groups import server_name
from coursehub.links.url import Link, build_link, clone_folder, link_url
from coursehub.manifest import Assignment, Course, Manifest
from coursehub.manifest.effective import course_settings

CSV_COLUMNS = ["course", "assignment", "title", "due", "points", "interface", "path", "folder", "url"]
INTERFACE_TITLES = {
    "lab": "JupyterLab",
    "notebook": "Jupyter Notebook",
    "rstudio": "RStudio",
    "shiny": "Shiny",
    "vscode": "VS Code",
}


@dataclass(frozen=True)
class AssignmentLink:
    course: Course
    assignment: Assignment
    interface: str
    link: Link
    #: What the LMS stores as the assignment's launch URL, when the course is taught in an LMS.
    lti_url: str | None = None

    @property
    def title(self) -> str:
        return self.assignment.title or self.assignment.id

    @property
    def due(self) -> str:
        return self.assignment.due.isoformat() if self.assignment.due else ""


def assignment_link(
    manifest: Manifest, course: Course, assignment: Assignment, *, hub: str | None = None, repo: str | None = None
) -> Link:
    """The link of one assignment: it opens the course's own named server in the course's interface.

    ``hub`` and ``repo`` replace the manifest's hub URL and content repository (the local demo's hub
    and git server); the link still clones into the folder the real repository would.
    """
    content = course.content
    targetpath = content.targetpath
    if repo is not None and not targetpath:
        targetpath = clone_folder(content.repo)
    try:
        return build_link(
            hub=hub or manifest.hub.url,
            repo=repo or content.repo,
            branch=content.branch,
            path=assignment.path,
            interface=course_settings(manifest, course).interface,
            targetpath=targetpath,
            server=server_name(course.id),
        )
    except CoursehubError as exc:
        raise CoursehubError(f"courses[{course.id}].assignments[{assignment.id}]: {exc.message}") from None


def course_links(manifest: Manifest, course: Course) -> list[AssignmentLink]:
    """The link of every assignment of ``course`` (empty if it has no content repository)."""
    if course.content is None:
        return []
    interface = course_settings(manifest, course).interface
    result = []
    for assignment in course.assignments:
        link = assignment_link(manifest, course, assignment)
        lti_url = None
        if manifest.hub.lms is not None and course.lms is not None:
            lti_url = link_url(dataclasses.replace(link.fields, launch="lti"))
        result.append(AssignmentLink(course, assignment, interface, link, lti_url))
    return result


def _md_table(items: list[AssignmentLink]) -> list[str]:
    lines = ["| Assignment | Due | Opens | Link |", "| --- | --- | --- | --- |"]
    for item in items:
        opens = escape.markdown_code(f"{item.link.folder}/{item.assignment.path}")
        link = f"[Open in {INTERFACE_TITLES[item.interface]}]({escape.markdown_url(item.link.url)})"
        lines.append(f"| {escape.markdown(item.title)} | {item.due} | {opens} | {link} |")
    return lines


def _lti_table(items: list[AssignmentLink]) -> list[str]:
    """The launch URL of each assignment, to store in the LMS (Canvas: the external tool URL)."""
    if items[0].lti_url is None:
        return []
    lines = [
        "## In the LMS",
        "",
        "Store each launch URL as the assignment's external tool URL (LTI 1.1: the launch URL; LTI 1.3: the "
        "target link URI). It signs the student in from the LMS, then opens the assignment.",
        "",
        "| Assignment | Launch URL |",
        "| --- | --- |",
    ]
    lines += [f"| {escape.markdown(i.title)} | {escape.markdown_code(i.lti_url)} |" for i in items]
    return lines + [""]


def _html_page(course: Course, items: list[AssignmentLink], codes: list[bytes]) -> str:
    esc = escape.html
    cards = []
    for item, code in zip(items, codes):
        svg = code.decode("utf-8")
        due = f"<p class=\"due\">Due {esc(item.due)}</p>" if item.due else ""
        cards.append(
            "<section class=\"card\">"
            f"<h2>{esc(item.title)}</h2>{due}"
            f"<div class=\"qr\">{svg}</div>"
            f"<p><a href=\"{escape.html_url(item.link.url)}\">Open in {esc(INTERFACE_TITLES[item.interface])}</a></p>"
            f"<p class=\"url\">{esc(item.link.url)}</p>"
            "</section>"
        )
    style = (
        "body{font-family:system-ui,sans-serif;margin:2rem}"
        ".card{break-inside:avoid;page-break-inside:avoid;border:1px solid #ccc;padding:1rem;margin:0 0 1rem}"
        ".url{font-family:monospace;font-size:.7rem;word-break:break-all}"
        "@media print{a{color:inherit}}"
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(course.title)} — assignment links</title><style>{style}</style></head><body>"
        f"<h1>{esc(course.title)}</h1><p>Scan a code or click a link: it signs you in, copies the assignment "
        "into your home folder and opens it. Clicking again later brings in updates and keeps your edits.</p>"
        + "".join(cards)
        + "</body></html>\n"
    )


def inputs(manifest: Manifest) -> bytes:
    """What the ``links`` family reads besides the manifest: which assignments its local content holds."""
    from pathlib import Path

    base = Path(manifest.source).parent
    seen = []
    for course in manifest.courses:
        if course.content and course.content.local:
            local = base / course.content.local
            seen.append([course.id, local.is_dir(), [(local / a.path).exists() for a in course.assignments]])
    return repr(seen).encode()


def generate(ctx: BuildContext) -> None:
    """Write the links family (see the module docstring for the layout)."""
    index = ["# Assignment links", ""]
    courses = [(course, course_links(ctx.manifest, course)) for course in sorted(ctx.manifest.courses, key=lambda c: c.id)]
    # one code per link, all at once (codes of one QR version are encoded together): the QR file and
    # the printable page show the same bytes
    every = [item for _, items in courses for item in items]
    from coursehub.links import qr  # numpy and segno: not for a rebuild that only asks for inputs()

    codes_of = dict(zip(map(id, every), qr.svgs([(item.link.url, item.title) for item in every])))
    for course, items in courses:
        if not items:
            ctx.notes.append(f"links: {course.id} has no content repository or no assignments; no links written")
            continue
        local = ctx.base / course.content.local if course.content and course.content.local else None
        for item in items:
            for warning in item.link.warnings:
                ctx.notes.append(f"links: {course.id}/{item.assignment.id}: {warning}")
            # the local copy of the content is the cheap early check; `links check` asks the real repository
            if local is not None and local.is_dir() and not (local / item.assignment.path).exists():
                ctx.notes.append(
                    f"links: {course.id}/{item.assignment.id}: {item.assignment.path} is not in {course.content.local}; "
                    "the link would open a missing file (run `coursehub links check`)"
                )
        base = f"links/{course.id}"
        lti = items[0].lti_url is not None
        ctx.add(
            f"{base}/links.csv",
            emit.to_csv(
                CSV_COLUMNS + (["lti_url"] if lti else []),
                [
                    [course.id, i.assignment.id, i.title, i.due, "" if i.assignment.points is None else f"{i.assignment.points:g}",
                     i.interface, i.assignment.path, i.link.folder, i.link.url] + ([i.lti_url] if lti else [])
                    for i in items
                ],
            ),
        )
        ctx.add(f"{base}/links.md", "\n".join([f"# {escape.markdown(course.title)}", "", *_md_table(items), "", *_lti_table(items)]))
        codes = [codes_of[id(item)] for item in items]
        ctx.add(f"{base}/index.html", _html_page(course, items, codes))
        for item, code in zip(items, codes):
            ctx.add(f"{base}/qr/{item.assignment.id}.svg", code)
        index += [f"## {escape.markdown(course.title)} (`{course.id}`)", "", *_md_table(items), "",
                  f"Printable page with QR codes: [{course.id}/index.html]({course.id}/index.html)", ""]
    ctx.add("links/index.md", "\n".join(index))
