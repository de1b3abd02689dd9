"""Reading a manifest file: bounded YAML with line numbers, pydantic validation, rosters, and the checks.

Every problem found is collected and reported at once, each with ``file:line:column``, the dotted
path, what is wrong and what would fix it. Nothing here raises a raw pydantic or YAML exception to
the caller: :func:`load_manifest` raises :class:`~coursehub.errors.ManifestError` with the list.

The manifest and its rosters are untrusted input: files are read only inside the manifest's folder
(:mod:`coursehub.manifest.files`), within size limits, and YAML is parsed with bounds on nesting and
aliases (:mod:`coursehub.manifest.yamldoc`). No error about a file quotes the file.
"""

from __future__ import annotations

import csv
import difflib
import io
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from coursehub.errors import ManifestError, Problem, Report, excerpt
from coursehub.manifest import Manifest, RosterCSV
from coursehub.manifest.files import FileProblem, Limits, read_text, resolve, shown
from coursehub.manifest.models import RETIRED_INTERFACES
from coursehub.manifest.units import date_problem, plural
from coursehub.manifest.usernames import normalize_username, username_problem
from coursehub.manifest.yamldoc import YamlDoc, parse

Loc = tuple[Any, ...]


def format_path(loc: Loc) -> str:
    """``('courses', 0, 'resources')`` -> ``courses[0].resources``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _model_for(loc: Loc) -> type[BaseModel] | None:
    """The pydantic model class that holds the value at ``loc`` (for listing allowed keys)."""
    annotation: Any = Manifest
    for part in loc:
        annotation = _strip_optional(annotation)
        origin = typing.get_origin(annotation)
        if origin in (list, dict):
            annotation = typing.get_args(annotation)[-1]  # the item / value type
            continue
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        field = annotation.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
    annotation = _strip_optional(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _strip_optional(annotation: Any) -> Any:
    """``X | None`` -> ``X``; for a union of a model and something else, the model."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        return models[0] if models else (args[0] if len(args) == 1 else annotation)
    return annotation


def _union_members(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _step(annotation: Any, part: Any) -> Any:
    """The annotation of the value at ``part`` inside a value of type ``annotation`` (None if unknown)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _step(typing.get_args(annotation)[0], part)
    if origin is list and isinstance(part, int):
        return typing.get_args(annotation)[0]
    if origin is dict:
        return str if part == "[key]" else typing.get_args(annotation)[1]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and part in annotation.model_fields:
        return annotation.model_fields[part].annotation
    return None


def _without_union_tags(loc: Loc) -> Loc:
    """``loc`` without the member tags pydantic inserts after a union field (``RosterCSV``, ``list[str]``).

    The walk follows the models, so a dict key that merely looks like a tag (``PATH``) is kept.
    """
    out: list[Any] = []
    annotation: Any = Manifest
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        members = _union_members(annotation) if annotation is not None else []
        if len(members) > 1 and isinstance(part, str):
            # pydantic names the member that failed before the path inside it
            annotation = next((m for m in members if getattr(m, "__name__", None) == part or repr(m) == part), None)
            continue
        if len(members) == 1:
            annotation = members[0]
        out.append(part)
        annotation = _step(annotation, part) if annotation is not None else None
    return tuple(out)


#: What each pattern in the models means, for the hint of a value that does not match it.
_PATTERN_HINTS = {
    "a-z0-9-": "use lowercase letters, digits and dashes, starting and ending with a letter or digit",
    "a-z0-9._-": "use lowercase letters, digits, '.', '_' and '-', starting and ending with a letter or digit",
    "A-Za-z_": "environment variable names are letters, digits and '_', not starting with a digit",
    "-A-Za-z0-9_.": "Kubernetes labels are at most 63 letters, digits, '-', '_' and '.' (keys may have a 'prefix/')",
    "a-z0-9._:/-": "write a registry image name such as quay.io/example/data8 (lowercase)",
    "A-Za-z0-9_.-": "a tag is at most 128 letters, digits, '_', '.' and '-'",
}


def _pattern_hint(pattern: str) -> str:
    for marker, hint in _PATTERN_HINTS.items():
        if f"[{marker}]" in pattern:
            return hint
    return f"it must match {pattern}"


def _hint_for(err: dict, loc: Loc) -> tuple[str, str]:
    """A readable message and a fix for one pydantic error."""
    kind = err["type"]
    msg = err["msg"]
    ctx = err.get("ctx", {})
    value = excerpt(err.get("input"))
    what = "the key " if loc and loc[-1] == "[key]" else ""
    if kind == "extra_forbidden":
        key = loc[-1]
        model = _model_for(loc[:-1])
        allowed = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
        return f"unknown key {excerpt(key)}", hint
    if kind == "missing":
        return f"required key {loc[-1]!r} is missing", f"add `{loc[-1]}:` here"
    if kind == "literal_error":
        if loc and loc[-1] == "interface" and err.get("input") in RETIRED_INTERFACES:
            return f"{value} is not allowed", RETIRED_INTERFACES[err["input"]]
        return f"{value} is not allowed", f"use one of {ctx.get('expected', '')}"
    if kind == "string_pattern_mismatch":
        hint = _pattern_hint(str(ctx.get("pattern", "")))
        if what:
            return f"the key {value} is not allowed", hint
        return f"{value} is not a valid {'identifier' if '[a-z0-9-]' in str(ctx.get('pattern')) else 'value here'}", hint
    if kind == "string_too_long":
        length = len(err.get("input") or "")
        return f"{'the key is' if what else 'the text is'} {length:,} characters long, too long (at most {ctx.get('max_length')})", "shorten it"
    if kind == "string_too_short":
        return "the text is empty", "write something here or leave the key out"
    if kind == "finite_number":
        number = err.get("input")
        name = ".nan (not a number)" if number != number else ".inf (infinity)"
        return f"{name} is not allowed here", "write a finite number such as 0.5"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"{msg} (it is {value})", ""
    if kind == "value_error":
        return msg.removeprefix("Value error, "), ""
    if kind in ("date_from_datetime_parsing", "date_parsing", "date_type"):
        raw = err.get("input")
        if isinstance(raw, str) and len(raw) <= 40 and raw.isprintable():
            return date_problem(raw), ""  # says which part is wrong: the month, or the day in that month
        return f"{value} is not a date", "write dates as YYYY-MM-DD"
    if kind == "model_type" or kind == "dict_type":
        return f"expected a mapping of keys, got {type(err.get('input')).__name__}", ""
    if kind == "list_type":
        return f"expected a list, got {type(err.get('input')).__name__}", "write a YAML list: [a, b] or '- a' lines"
    if kind in ("string_type", "int_type", "float_type", "bool_type"):
        wanted = {"string_type": "text", "int_type": "a whole number", "float_type": "a number", "bool_type": "true or false"}[kind]
        got = err.get("input")
        hint = ""
        if kind == "string_type" and (isinstance(got, (bool, int, float)) or got is None):
            # YAML 1.1 reads a bare no, on, 1:30 or 0123 as a boolean or a number, ~ or nothing as null
            hint = "YAML reads unquoted yes, no, on, off, true, false and numbers as such: put the text in quotes, such as 'no'"
        return f"expected {wanted}, got {type(got).__name__}", hint
    return msg, ""


def _collapse_union_errors(errors: list[dict]) -> list[dict]:
    """pydantic reports a failing union member by member; keep the most specific ones.

    ``students`` is ``RosterCSV | list[str]``: a mapping with a typo should report the typo, not also
    "expected a list".
    """
    out = []
    for err in errors:
        err = {**err, "loc": _without_union_tags(tuple(err["loc"]))}
        out.append(err)
    # if several errors share a path, and some are "wrong type" noise from the other union member,
    # keep the informative ones
    by_path: dict[Loc, list[dict]] = {}
    for err in out:
        by_path.setdefault(err["loc"], []).append(err)
    result = []
    seen = set()
    for err in out:
        siblings = by_path[err["loc"]]
        noise = {"list_type", "model_type", "dict_type"}
        if err["type"] in noise and any(s["type"] not in noise for s in siblings):
            continue
        if err["type"] in noise and any(
            o["loc"][: len(err["loc"])] == err["loc"] and len(o["loc"]) > len(err["loc"]) for o in out
        ):
            continue
        key = (err["loc"], err["type"], err["msg"])
        if key not in seen:
            seen.add(key)
            result.append(err)
    return result




def read_yaml(path: Path, report: Report, *, limits: Limits | None = None) -> YamlDoc | None:
    """Parse ``path`` keeping line numbers, within the limits; every problem is added to ``report``."""
    limits = limits or Limits.from_env()
    try:
        text = read_text(path, limit=limits.manifest, limit_var=limits.env_var("manifest"), what="manifest file")
    except FileProblem as exc:
        code = "manifest-unreadable" if exc.code == "unreadable" else f"manifest-{exc.code}"
        report.error(exc.message, code=code, file=str(path), line=exc.line, column=exc.column, hint=exc.hint)
        return None
    doc, problems = parse(text, limits=limits)
    for p in problems:
        report.error(p.message, code=p.code, file=str(path), line=p.line, column=p.column, hint=p.hint)
    return doc


def read_roster(
    csv_path: Path, column: str, *, where: dict, report: Report, limits: Limits | None = None, name: str | None = None
) -> list[tuple[str, int]]:
    """Usernames and their line numbers from a roster CSV; bad rows become problems.

    ``where`` locates the roster's entry in the manifest; ``name`` is the path as the manifest writes
    it (default: ``csv_path``). Problems about the file as a whole (too
    large, not UTF-8, no such column) never quote it: it may be a file that was never a roster.
    """
    limits = limits or Limits.from_env()
    name = name or str(csv_path)
    try:
        text = read_text(csv_path, limit=limits.roster, limit_var=limits.env_var("roster"), what=f"roster {shown(name)}")
    except FileProblem as exc:
        if exc.line is not None:
            report.error(exc.message, code=f"roster-{exc.code}", file=str(csv_path), line=exc.line, column=exc.column, hint=exc.hint)
        else:
            report.error(exc.message, code=f"roster-{exc.code}", hint=exc.hint, **where)
        return []
    if "\0" in text:
        # NUL never occurs in a CSV export; the file is binary (or not a roster at all)
        nul = text.index("\0")
        report.error(f"the roster {shown(name)} contains NUL bytes: it is not a text file", code="roster-binary", file=str(csv_path),
                     line=text.count("\n", 0, nul) + 1, hint="export the roster again as CSV UTF-8")
        return []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or column not in header:
            same = [f for f in header or [] if f.strip().lower() == column.strip().lower()]
            report.error(
                f"roster {shown(name)} has no column {excerpt(column)} (its first row has {len(header or [])} column(s))",
                code="roster-column",
                hint=f"did you mean {same[0]!r}?" if same else
                "set `column:` to the name of the column holding hub usernames, as written in the roster's first row",
                **where,
            )
            return []
        index = header.index(column)
        rows = []
        for row in reader:
            if not row:
                continue  # a blank line, as DictReader skips it
            # line_num is the physical line just read, so multi-line quoted cells still point right
            rows.append((row[index] if index < len(row) else "", reader.line_num))
    except csv.Error as exc:
        # csv's messages describe the syntax ("field larger than field limit", "line contains NUL"), not the data
        report.error(f"the roster is not valid CSV ({exc})", code="roster-csv", file=str(csv_path), line=max(reader.line_num, 1),
                     hint="export it again as CSV UTF-8")
        return []
    return rows



def _check_usernames(names: list[tuple], report: Report, *, strict: bool, what: str, code: str) -> list[str]:
    """Normalise and check usernames; returns the valid ones, de-duplicated, in order.

    ``names`` holds ``(raw name, file, line, column, path)`` tuples (tuples: a roster has thousands).
    Problems get the code ``<code>-invalid`` or ``<code>-duplicate`` (``student-…`` or ``staff-…``).
    """
    seen: dict[str, int | None] = {}
    out = []
    severity = report.error if strict else report.warning
    for raw, file, line, column, path in names:
        name = normalize_username(raw)
        problem = username_problem(name)
        if problem:
            severity(f"{what}: {problem}", code=f"{code}-invalid", hint="fix or remove this row" if line else "",
                     file=file, line=line, column=column, path=path)
            continue
        if name in seen:
            first = seen[name]
            severity(
                f"{what}: {name!r} is listed twice (first at line {first})" if first else f"{what}: {name!r} is listed twice",
                hint="remove the duplicate", code=f"{code}-duplicate", file=file, line=line, column=column, path=path,
            )
            continue
        seen[name] = line
        out.append(name)
    return out


def load_manifest(path: str | Path, *, strict: bool = True, limits: Limits | None = None) -> tuple[Manifest, list[Problem]]:
    """Load and check a manifest. Returns the model and the warnings; raises ManifestError on errors.

    With ``strict`` (the default), bad roster rows (invalid or duplicate usernames) are errors;
    without it they are skipped and returned as warnings, which is what ``sync`` wants by default.
    ``limits`` bound what may be read (default: :meth:`Limits.from_env`).
    """
    from coursehub.manifest.rules import rule_problems

    path = Path(path)
    limits = limits or Limits.from_env()
    report = Report()
    doc = read_yaml(path, report, limits=limits)
    if report.errors:
        raise ManifestError(f"{path}: the manifest could not be read", problems=report.problems)
    if doc is None or not isinstance(doc.data, dict):
        report.error("the manifest must be a mapping with `hub`, `images` and `courses`", code="not-a-mapping", file=str(path), line=1, column=1)
        raise ManifestError(f"{path}: invalid manifest", problems=report.problems)

    try:
        manifest = Manifest.model_validate(doc.data)
    except ValidationError as exc:
        for err in _collapse_union_errors(exc.errors(include_url=False)):
            loc = tuple(err["loc"])
            message, hint = _hint_for(err, loc)
            line, col = doc.find(loc)
            shown_loc = loc[:-1] if loc and loc[-1] == "[key]" else loc
            report.error(message, code=f"schema-{err['type']}", file=str(path), line=line, column=col, path=format_path(shown_loc), hint=hint)
        raise ManifestError(f"{path}: {plural(len(report.errors), 'problem')} in the manifest", problems=report.problems)

    manifest._source = str(path.resolve())
    base = path.resolve().parent
    for i, course in enumerate(manifest.courses):
        course._roster = _load_students(course, i, base, path, doc, report, strict=strict, limits=limits)
        # staff usernames are normalised in place; they are few and always inline
        for role in ("instructors", "tas"):
            loc = ("courses", i, "staff", role)
            entries = []
            for j, name in enumerate(getattr(course.staff, role)):
                line, col = doc.find(loc + (j,))
                entries.append((name, str(path), line, col, format_path(loc + (j,))))
            setattr(course.staff, role, _check_usernames(entries, report, strict=True, what=f"{role[:-1] if role != 'tas' else 'TA'}", code="staff"))

    for problem in rule_problems(manifest, limits=limits):
        loc = problem.pop("loc")
        line, col = doc.find(loc)
        severity = problem.pop("severity", "error")
        file = problem.pop("file", None) or str(path)
        if problem.get("line") is not None:  # a problem inside another file (a grader notebook) has its own line
            line, col = problem.pop("line"), problem.pop("column", None)
        getattr(report, severity)(file=file, line=line, column=col, path=format_path(loc), **problem)

    if report.errors:
        raise ManifestError(f"{path}: {plural(len(report.errors), 'problem')} in the manifest", problems=report.problems)
    return manifest, report.warnings


def read_students(course, base: Path, limits: Limits, *, where: dict, report: Report) -> list[tuple]:
    """The raw (unnormalised) usernames of a course's roster file as ``(name, file, line, column, path)``.

    The one place a roster file is found and read: another roster format (an LMS export) is added here.
    """
    roster = course.students
    try:
        csv_path = resolve(base, roster.csv, limits=limits, what="roster file")
    except FileProblem as exc:
        report.error(exc.message, code=f"roster-{exc.code}", hint=exc.hint, **where)
        return []
    if roster.format == "canvas":
        from coursehub.manifest.rosters_lms import read_canvas_roster as read
    else:
        read = read_roster
    rows = read(csv_path, roster.login_column, where=where, report=report, limits=limits, name=roster.csv)
    file = str(csv_path)
    return [(name, file, n, None, "") for name, n in rows]


def _load_students(course, index: int, base: Path, path: Path, doc: YamlDoc, report: Report, *, strict: bool, limits: Limits):
    loc = ("courses", index, "students")
    line, col = doc.find(loc)
    where = dict(file=str(path), line=line, column=col, path=format_path(loc))
    if isinstance(course.students, RosterCSV):
        entries = read_students(course, base, limits, where=where, report=report)
    else:
        entries = []
        for j, name in enumerate(course.students):
            line, col = doc.find(loc + (j,))
            entries.append((name, str(path), line, col, format_path(loc + (j,))))
    return _check_usernames(entries, report, strict=strict, what=f"course {course.id} student", code="student")


def manifest_from_text(text: str, *, base: Path, name: str = "manifest.yaml", strict: bool = True) -> Manifest:
    """Load a manifest from a string as if it were the file ``base/name`` (for tests and tools)."""
    target = base / name
    target.write_text(text, encoding="utf-8")
    return load_manifest(target, strict=strict)[0]
