"""The checks ``coursehub build`` makes on the manifest, run by ``validate`` too, every problem located.

The link builder (:mod:`coursehub.links.url`) and the image planner (:mod:`coursehub.images.plan`)
refuse what they cannot build. Running their own checks here, field by field, means ``validate``
reports every such problem at once with its line, and ``build`` never meets a new one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from coursehub.errors import CoursehubError, excerpt
from coursehub.manifest import Manifest
from coursehub.manifest.effective import course_settings


def _err(loc, message, hint="", severity="error", *, code: str):
    return dict(loc=tuple(loc), message=message, hint=hint, severity=severity, code=code)


def _fail_text(exc: CoursehubError) -> str:
    # the link checks say "the repository URL ... "; the path already says which field it is
    return exc.message.removeprefix("the ")


def hub_url_problems(manifest: Manifest) -> Iterator[dict]:
    """The hub URL as the link builder reads it: http(s), a host, nothing a URL cannot hold."""
    from coursehub.links.url import check_hub_url, url_syntax_problem

    url = manifest.hub.url
    try:
        _, warnings = check_hub_url(url)
    except CoursehubError:
        problem = url_syntax_problem(url.strip())
        if problem and url.strip().lower().startswith(("http://", "https://")):
            yield _err(("hub", "url"), f"hub URL {excerpt(url)} {problem}", "write it like https://hub.example.edu", code="hub-url")
        else:
            yield _err(("hub", "url"), f"hub URL {excerpt(url)} is not an http(s) URL", "write it like https://hub.example.edu", code="hub-url")
        return
    for warning in warnings:
        yield _err(("hub", "url"), warning, "", "warning", code="hub-url-corrected")


def link_problems(manifest: Manifest, index: int, *, hub_ok: bool) -> Iterator[dict]:
    """Every check the link builder makes for course ``index``'s content and assignments."""
    from coursehub.links.url import build_link, check_branch, check_file_path, check_repo, check_targetpath

    course = manifest.courses[index]
    if course.content is None:
        return
    loc = ("courses", index, "content")
    ok = True
    try:
        _, warnings, _ = check_repo(course.content.repo)
        for warning in warnings:
            yield _err(loc + ("repo",), warning, "", "warning", code="link-repo-corrected")
    except CoursehubError as exc:
        ok = False
        yield _err(loc + ("repo",), _fail_text(exc), "give the repository's https:// clone URL", code="link-repo")
    for field, check, hint in (
        ("branch", check_branch, "give the branch students pull, e.g. main"),
        ("targetpath", check_targetpath, "give a folder name relative to the student's home"),
    ):
        try:
            check(getattr(course.content, field))
        except CoursehubError as exc:
            ok = False
            yield _err(loc + (field,), _fail_text(exc), hint, code=f"link-{field}")
    interface = course_settings(manifest, course).interface
    linked = False
    for j, assignment in enumerate(course.assignments):
        aloc = ("courses", index, "assignments", j, "path")
        if assignment.path.startswith("/") or ".." in assignment.path.split("/") or not assignment.path.strip():
            continue  # reported by the manifest's own rule, with its own wording
        try:
            check_file_path(assignment.path)
        except CoursehubError as exc:
            yield _err(aloc, _fail_text(exc), "give the file's path inside the repository", code="link-path")
            continue
        if not (ok and hub_ok) or linked:
            continue
        # What the links family builds. With every field checked above, what is left depends on the
        # course only (the folder the repository clones into), so one assignment answers for all.
        linked = True
        try:
            build_link(hub=manifest.hub.url, repo=course.content.repo, branch=course.content.branch, path=assignment.path,
                       interface=interface, targetpath=course.content.targetpath)
        except CoursehubError as exc:
            yield _err(loc + ("repo",), _fail_text(exc), "give the content a `targetpath`", code="link-folder")


# images.<key>.packages[3] -> ("images", key, "packages", 3); image keys hold no "[" and the field
# names are fixed, so the last ".field" is the field even when the key has dots in it.
_IMAGE_PATH = re.compile(r"^images\.(?P<key>.+)\.(?P<field>packages|r_packages|apt|registry|tag)(\[(?P<i>\d+)\])?$")


def _image_loc(path: str) -> tuple:
    m = _IMAGE_PATH.match(path)
    if not m:
        return ("images",)
    loc: tuple = ("images", m["key"], m["field"])
    return loc + (int(m["i"]),) if m["i"] is not None else loc


def image_problems(manifest: Manifest) -> Iterator[dict]:
    """The image planner's problems (unpinned packages, conflicts with a standard set, shared
    registries with different packages), all of them, each at its package."""
    from coursehub.images.plan import plan_images

    if any(c.image not in manifest.images for c in manifest.courses if c.image) or manifest.hub.image not in manifest.images:
        return  # an unknown image key is reported already; the planner would stop at it
    try:
        plan = plan_images(manifest)
    except CoursehubError as exc:
        for p in exc.problems or []:
            yield _err(_image_loc(p.path), p.message, p.hint, p.severity, code=p.code or "image")
        if not exc.problems:
            yield _err(("images",), exc.message, code="image")
        return
    yield from grader_image_problems(manifest, plan)


#: What a course's students need in their image for its grader, and what they do with it.
GRADER_PACKAGES = {
    "nbgrader": ("nbgrader", "fetch and submit assignments (nbgrader's Assignments tab)"),
    "otter": ("otter-grader", "check their answers (grader.check() in the notebook)"),
}


def grader_image_problems(manifest: Manifest, plan) -> Iterator[dict]:
    """A course whose grader is missing from its students' image: it works on a single machine (one
    environment for everybody) and fails on Kubernetes, where each course's servers run its image."""
    from packaging.utils import canonicalize_name

    builds = {course_id: build for build in plan.builds for course_id in build.courses}
    for i, course in enumerate(manifest.courses):
        need = GRADER_PACKAGES.get(course.grader or "")
        build = builds.get(course.id)
        if need is None or build is None or build.language != "python":
            continue  # an R image's otter courses use ottr, an R package
        package, use = need
        if canonicalize_name(package) not in build.lock:
            key = course.image or manifest.hub.image
            yield _err(
                ("courses", i, "grader"),
                f"the course grades with {course.grader}, but its image {excerpt(key)} has no {package}: on Kubernetes "
                f"its students could not {use}",
                f"add `{package}==<version>` to `images.{key}.packages`, or give the course an image that has it",
                code="grader-not-in-image",
            )
