"""Reading a manifest file: YAML with line numbers, pydantic validation, rosters, and the checks.

Every problem found is collected and reported at once, each with ``file:line:column``, the dotted
path, what is wrong and what would fix it. Nothing here raises a raw pydantic or YAML exception to
the caller: :func:`load_manifest` raises :class:`~coursehub.errors.ManifestError` with the list.
"""

from __future__ import annotations

import csv
import difflib
import io
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError

from coursehub.errors import ManifestError, Problem, Report
from coursehub.manifest import Manifest, RosterCSV
from coursehub.manifest.usernames import normalize_username, username_problem

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


class Positions:
    """Maps a path inside the YAML document to the line and column it was written at."""

    def __init__(self, root: Any):
        self.root = root

    def find(self, loc: Loc) -> tuple[int | None, int | None]:
        node = self.root
        line = col = None
        for part in loc:
            if isinstance(node, CommentedMap) and part in node:
                pos = node.lc.key(part) if isinstance(part, str) else node.lc.value(part)
                line, col = pos
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                line, col = node.lc.item(part)
                node = node[part]
            else:
                break
        if line is None:
            return (None, None)
        return (line + 1, col + 1)

    def parent_keys(self, loc: Loc) -> list[str]:
        node = self.root
        for part in loc:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return []
        return list(node.keys()) if isinstance(node, dict) else []


def _plain(node: Any) -> Any:
    """ruamel's round-trip containers as plain dicts and lists."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _model_for(loc: Loc) -> type[BaseModel] | None:
    """The pydantic model class that holds the value at ``loc`` (for listing allowed keys)."""
    import typing

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
    import types
    import typing

    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        return models[0] if models else (args[0] if len(args) == 1 else annotation)
    return annotation


def _hint_for(err: dict, loc: Loc, positions: Positions) -> tuple[str, str]:
    """A readable message and a fix for one pydantic error."""
    kind = err["type"]
    msg = err["msg"]
    if kind == "extra_forbidden":
        key = loc[-1]
        model = _model_for(loc[:-1])
        allowed = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
        return f"unknown key {key!r}", hint
    if kind == "missing":
        return f"required key {loc[-1]!r} is missing", f"add `{loc[-1]}:` here"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"{err.get('input')!r} is not allowed", f"use one of {expected}"
    if kind == "string_pattern_mismatch":
        return (
            f"{err.get('input')!r} is not a valid identifier",
            "use lowercase letters, digits and dashes, starting and ending with a letter or digit",
        )
    if kind == "value_error":
        return msg.removeprefix("Value error, "), ""
    if kind in ("date_from_datetime_parsing", "date_parsing", "date_type"):
        return f"{err.get('input')!r} is not a date", "write dates as YYYY-MM-DD"
    if kind == "model_type" or kind == "dict_type":
        return f"expected a mapping of keys, got {type(err.get('input')).__name__}", ""
    if kind == "list_type":
        return f"expected a list, got {type(err.get('input')).__name__}", "write a YAML list: [a, b] or '- a' lines"
    return msg, ""


def _collapse_union_errors(errors: list[dict]) -> list[dict]:
    """pydantic reports a failing union member by member; keep the most specific ones.

    ``students`` is ``RosterCSV | list[str]``: a mapping with a typo should report the typo, not also
    "expected a list".
    """
    out = []
    for err in errors:
        loc = err["loc"]
        # drop the union tag pydantic inserts ('RosterCSV' / 'list[str]')
        clean = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p[:1].isupper())))
        err = {**err, "loc": clean}
        out.append(err)
    # if several errors share a path, and some are "wrong type" noise from the other union member,
    # keep the informative ones
    by_path: dict[Loc, list[dict]] = {}
    for err in out:
        by_path.setdefault(err["loc"], []).append(err)
    result = []
    for err in out:
        siblings = by_path[err["loc"]]
        noise = {"list_type", "model_type", "dict_type"}
        if err["type"] in noise and any(s["type"] not in noise for s in siblings):
            continue
        if err["type"] in noise and any(
            o["loc"][: len(err["loc"])] == err["loc"] and len(o["loc"]) > len(err["loc"]) for o in out
        ):
            continue
        if err not in result:
            result.append(err)
    return result


class _Constructor(RoundTripConstructor):
    """Leaves an impossible date (2026-13-01) as text, so validation reports it at its line."""

    def construct_yaml_timestamp(self, node, values=None):
        try:
            return super().construct_yaml_timestamp(node, values)
        except ValueError:
            return node.value


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)


def read_yaml(path: Path, report: Report) -> Any:
    """Parse ``path`` keeping line numbers; YAML syntax errors become problems."""
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.allow_duplicate_keys = False
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        report.error("the manifest file does not exist", code="manifest-missing", file=str(path))
        return None
    except (OSError, UnicodeDecodeError) as exc:
        report.error(f"cannot read the manifest: {exc}", code="manifest-unreadable", file=str(path))
        return None
    try:
        return yaml.load(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        report.error(
            f"YAML syntax: {exc.problem or exc.context}",
            code="yaml-syntax",
            file=str(path),
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            hint="check indentation and quoting near here",
        )
        return None
    except Exception as exc:  # ruamel raises a handful of unrelated types for odd input
        report.error(f"YAML: {exc}", code="yaml", file=str(path))
        return None


def read_roster(csv_path: Path, column: str, *, where: dict, report: Report) -> list[tuple[str, int]]:
    """Usernames and their line numbers from a roster CSV; bad rows become problems."""
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        report.error(f"roster file {csv_path} does not exist", code="roster-missing", hint="fix the path (it is relative to the manifest)", **where)
        return []
    except (OSError, UnicodeDecodeError) as exc:
        report.error(f"cannot read roster {csv_path}: {exc}", code="roster-unreadable", **where)
        return []
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or column not in reader.fieldnames:
        report.error(
            f"roster {csv_path} has no column {column!r}",
            code="roster-column",
            hint=f"columns are: {', '.join(reader.fieldnames or []) or 'none'}; set `column:` to one of them",
            **where,
        )
        return []
    rows = []
    for row in reader:
        # DictReader's line_num is the physical line just read, so multi-line quoted cells still point right
        rows.append((row.get(column) or "", reader.line_num))
    return rows


def _check_usernames(
    names: list[tuple[str, Problem]], report: Report, *, strict: bool, what: str, code: str
) -> list[str]:
    """Normalise and check usernames; returns the valid ones, de-duplicated, in order.

    Problems get the code ``<code>-invalid`` or ``<code>-duplicate`` (``student-…`` or ``staff-…``)."""
    seen: dict[str, Problem] = {}
    out = []
    for raw, where in names:
        name = normalize_username(raw)
        problem = username_problem(name)
        loc = dict(file=where.file, line=where.line, column=where.column, path=where.path)
        severity = report.error if strict else report.warning
        if problem:
            severity(f"{what}: {problem}", code=f"{code}-invalid", hint="fix or remove this row" if where.line else "", **loc)
            continue
        if name in seen:
            first = seen[name]
            severity(
                f"{what}: {name!r} is listed twice (first at line {first.line})" if first.line else f"{what}: {name!r} is listed twice",
                hint="remove the duplicate",
                code=f"{code}-duplicate",
                **loc,
            )
            continue
        seen[name] = where
        out.append(name)
    return out


def load_manifest(path: str | Path, *, strict: bool = True) -> tuple[Manifest, list[Problem]]:
    """Load and check a manifest. Returns the model and the warnings; raises ManifestError on errors.

    With ``strict`` (the default), bad roster rows (invalid or duplicate usernames) are errors;
    without it they are skipped and returned as warnings, which is what ``sync`` wants by default.
    """
    from coursehub.manifest.rules import rule_problems

    path = Path(path)
    report = Report()
    doc = read_yaml(path, report)
    if report.errors:
        raise ManifestError(f"{path}: the manifest could not be read", problems=report.problems)
    if not isinstance(doc, dict):
        report.error("the manifest must be a mapping with `hub`, `images` and `courses`", code="not-a-mapping", file=str(path), line=1, column=1)
        raise ManifestError(f"{path}: invalid manifest", problems=report.problems)

    positions = Positions(doc)
    try:
        manifest = Manifest.model_validate(_plain(doc))
    except ValidationError as exc:
        for err in _collapse_union_errors(exc.errors(include_url=False)):
            loc = tuple(err["loc"])
            message, hint = _hint_for(err, loc, positions)
            line, col = positions.find(loc)
            report.error(message, code=f"schema-{err['type']}", file=str(path), line=line, column=col, path=format_path(loc), hint=hint)
        raise ManifestError(f"{path}: {len(report.errors)} problem(s) in the manifest", problems=report.problems)

    manifest._source = str(path.resolve())
    base = path.resolve().parent
    for i, course in enumerate(manifest.courses):
        course._roster = _load_students(course, i, base, path, positions, report, strict=strict)
        # staff usernames are normalised in place; they are few and always inline
        for role in ("instructors", "tas"):
            loc = ("courses", i, "staff", role)
            entries = []
            for j, name in enumerate(getattr(course.staff, role)):
                line, col = positions.find(loc + (j,))
                entries.append((name, Problem("", file=str(path), line=line, column=col, path=format_path(loc + (j,)))))
            setattr(course.staff, role, _check_usernames(entries, report, strict=True, what=f"{role[:-1] if role != 'tas' else 'TA'}", code="staff"))

    for problem in rule_problems(manifest):
        loc = problem.pop("loc")
        line, col = positions.find(loc)
        severity = problem.pop("severity", "error")
        getattr(report, severity)(file=str(path), line=line, column=col, path=format_path(loc), **problem)

    if report.errors:
        raise ManifestError(f"{path}: {len(report.errors)} problem(s) in the manifest", problems=report.problems)
    return manifest, report.warnings


def _load_students(course, index: int, base: Path, path: Path, positions: Positions, report: Report, *, strict: bool):
    loc = ("courses", index, "students")
    line, col = positions.find(loc)
    where = dict(file=str(path), line=line, column=col, path=format_path(loc))
    if isinstance(course.students, RosterCSV):
        csv_path = (base / course.students.csv).resolve()
        if course.students.format == "canvas":
            from coursehub.manifest.rosters_lms import read_canvas_roster as read
        else:
            read = read_roster
        rows = read(csv_path, course.students.login_column, where=where, report=report)
        entries = [(name, Problem("", file=str(csv_path), line=n)) for name, n in rows]
    else:
        entries = []
        for j, name in enumerate(course.students):
            line, col = positions.find(loc + (j,))
            entries.append((name, Problem("", file=str(path), line=line, column=col, path=format_path(loc + (j,)))))
    return _check_usernames(entries, report, strict=strict, what=f"course {course.id} student", code="student")


def manifest_from_text(text: str, *, base: Path, name: str = "manifest.yaml", strict: bool = True) -> Manifest:
    """Load a manifest from a string as if it were the file ``base/name`` (for tests and tools)."""
    target = base / name
    target.write_text(text, encoding="utf-8")
    return load_manifest(target, strict=strict)[0]
