"""Reference pages generated from the code, so they cannot drift from it.

The manifest reference walks the pydantic models (through their JSON Schema, the same one
``coursehub schema`` prints) and lists every field with its type, default and description. The
command reference walks the click command tree typer builds from :data:`coursehub.cli.app`, so a
command another capability registers appears without anyone editing this module. Typer ships its
own copy of click, so the tree is walked by duck typing rather than ``isinstance(click.Group)``.
"""

from __future__ import annotations

import html
import json
import typing

from pydantic import BaseModel

from coursehub.manifest import ByteSize, Duration, Manifest
from coursehub.schema import manifest_schema


def _json_schema_of(annotated) -> dict:
    for meta in typing.get_args(annotated)[1:]:
        if hasattr(meta, "json_schema"):
            return meta.json_schema
    raise LookupError(f"{annotated} carries no WithJsonSchema")


#: The schemas of the value types with a short spelling, recognised wherever they appear.
_NAMED_VALUES = {
    "size": _json_schema_of(ByteSize)["anyOf"],
    "duration": _json_schema_of(Duration)["anyOf"],
}
_VALUE_HELP = {
    "size": _json_schema_of(ByteSize)["description"],
    "duration": _json_schema_of(Duration)["description"],
}


def anchor(model_name: str) -> str:
    """The heading anchor of a model's section (the name, lowercased; what mkdocs' toc generates)."""
    return model_name.lower()


def _models(root: type[BaseModel] | None = None) -> dict[str, type[BaseModel]]:
    """Every model reachable from ``root`` (the manifest), by class name (the JSON Schema's ``$defs`` keys)."""
    found: dict[str, type[BaseModel]] = {}

    def visit(tp) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp.__name__ in found:
                return
            found[tp.__name__] = tp
            for f in tp.model_fields.values():
                visit(f.annotation)
            return
        for arg in typing.get_args(tp):
            visit(arg)

    visit(root or Manifest)
    return found


def type_text(node: dict) -> str:
    """A JSON Schema node as a short Markdown type: ``size``, ``list of [Assignment](#assignment)``."""
    for name, variants in _NAMED_VALUES.items():
        if node.get("anyOf") == variants:
            return name
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{anchor(name)})"
    if "anyOf" in node:
        parts = [type_text(n) for n in node["anyOf"] if n.get("type") != "null"]
        text = " or ".join(parts)
        return text + (" or null" if len(parts) < len(node["anyOf"]) else "")
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type")
    if kind == "array":
        return "list of " + type_text(node.get("items", {}))
    if kind == "object":
        return "map of text to " + type_text(node.get("additionalProperties", {}))
    if kind == "string" and node.get("format") == "date":
        return "date (YYYY-MM-DD)"
    return {"string": "text", "integer": "integer", "number": "number", "boolean": "true/false"}.get(kind, "any")


def _constraints(node: dict) -> list[str]:
    rules = []
    for key, word in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<")):
        if key in node:
            rules.append(f"{word} {node[key]}")
    if "maxLength" in node:
        rules.append(f"at most {node['maxLength']} characters")
    if "pattern" in node and node.get("type") == "string":
        rules.append(f"matches `{node['pattern']}`")
    return rules


def _short(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _default_text(model: type[BaseModel], name: str) -> str:
    field = model.model_fields[name]
    if field.is_required():
        return "**required**"
    value = field.get_default(call_default_factory=True, validated_data={})
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", exclude_none=True)
    elif isinstance(value, (list, dict)):
        value = json.loads(json.dumps(value, default=str))
    # Scalar defaults are kept as written in the model (10m, 2G): the spelling a manifest would use.
    if value is None:
        return "none"
    if value in ({}, []):
        return "empty"
    return f"`{_short(value)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _prose(text: str) -> str:
    """Help and description text as Markdown: ``<student>`` must show, not become an HTML tag."""
    return html.escape(text, quote=False)


def manifest_reference() -> str:
    """The manifest reference page: one section per model, one table row per field."""
    schema = manifest_schema()
    defs = schema.get("$defs", {})
    models = _models()
    lines = [
        "# Manifest reference",
        "",
        "Every key of the course manifest, generated from coursehub's pydantic models when this site was",
        "built (the same source as `coursehub schema`). Unknown keys are errors. Sizes and durations accept",
        "a short spelling:",
        "",
        f"- **size**: {_VALUE_HELP['size']}",
        f"- **duration**: {_VALUE_HELP['duration']}",
        "",
    ]
    ordered = ["Manifest"] + [name for name in models if name != "Manifest"]
    for name in ordered:
        model = models[name]
        node = schema if name == "Manifest" else defs[name]
        lines += [f"## {name}", "", _prose((node.get("description") or model.__doc__ or "").strip()), ""]
        lines += ["| key | type | default | description |", "|---|---|---|---|"]
        for field_name, prop in node.get("properties", {}).items():
            described = _prose(prop.get("description", ""))
            rules = _constraints(prop)
            if rules:
                described += f" ({'; '.join(rules)})"
            row = [f"`{field_name}`", type_text(prop), _default_text(model, field_name), described]
            lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
        lines.append("")
    return "\n".join(lines)


# --- commands ---------------------------------------------------------------------------------------


def _is_group(command) -> bool:
    return hasattr(command, "list_commands")


def _walk(command, ctx, path: list[str]):
    yield path, command, ctx
    if _is_group(command):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            yield from _walk(sub, sub.context_class(sub, info_name=name, parent=ctx), path + [name])


#: Python type names as a reader of the command line would say them.
_PLAIN_TYPES = {
    "str": "text",
    "int": "integer",
    "int range": "integer",
    "float": "number",
    "float range": "number",
    "bool": "flag",
}


def _type_name(param, ctx) -> str:
    shown = param.display_type(ctx) if callable(getattr(param, "display_type", None)) else ""
    name = str(shown or getattr(getattr(param, "type", None), "name", "") or "text").strip("<>").lower()
    inner = name.removeprefix("list[").removesuffix("]")
    return _PLAIN_TYPES.get(inner, inner) if inner != name else _PLAIN_TYPES.get(name, name)


def _param_row(param, ctx) -> list[str]:
    if param.param_type_name == "option":
        names = ", ".join(f"`{o}`" for o in param.opts + param.secondary_opts)
        kind = "flag" if param.is_flag else _type_name(param, ctx)
        if param.multiple:
            kind += ", repeatable"
        default = None if param.required else param.get_default(ctx)
    else:
        names = f"`{param.name.upper()}`"
        kind = _type_name(param, ctx) + " (argument)"
        default = None
    if param.required:
        default_text = "**required**"
    elif default in (None, False, (), []):
        default_text = ""
    else:
        default_text = f"`{default}`"
    return [names, kind, default_text, _prose(getattr(param, "help", None) or "")]


def _usage(path: list[str], cmd, ctx) -> str:
    pieces = ["coursehub", *path]
    params = cmd.get_params(ctx)
    if any(p.param_type_name == "option" and p.name != "help" for p in params):
        pieces.append("[OPTIONS]")
    for p in params:
        if p.param_type_name == "argument":
            name = p.name.upper() + ("..." if p.nargs == -1 else "")
            pieces.append(name if p.required else f"[{name}]")
    if _is_group(cmd):
        pieces.append("COMMAND")
    return " ".join(pieces)


def cli_reference(command=None) -> str:
    """The command reference page: every command and subcommand with its usage and options."""
    if command is None:
        import typer

        from coursehub.cli import app

        command = typer.main.get_command(app)
    root = command.context_class(command, info_name="coursehub")
    lines = [
        "# Command reference",
        "",
        "Every `coursehub` command with its options, generated from the command-line program when this site",
        "was built. Messages and progress go to stderr and data to stdout. Exit status: 0 success,",
        "1 a check found something broken, 2 bad input (the message says what and where).",
        "",
    ]
    for path, cmd, ctx in _walk(command, root, []):
        if not path:
            continue
        title = "coursehub " + " ".join(path)
        lines += [f"## `{title}`", ""]
        help_text = (cmd.help or cmd.short_help or "").strip()
        if help_text:
            lines += [_prose(help_text.replace("\b\n", "")), ""]
        lines += ["```text", _usage(path, cmd, ctx), "```", ""]
        params = [p for p in cmd.get_params(ctx) if not getattr(p, "hidden", False) and p.name != "help"]
        if params:
            lines += ["| argument / option | type | default | what it does |", "|---|---|---|---|"]
            for p in params:
                lines.append("| " + " | ".join(_cell(str(c)) for c in _param_row(p, ctx)) + " |")
            lines.append("")
        if _is_group(cmd):
            subs = cmd.list_commands(ctx)
            lines += ["Subcommands: " + ", ".join(f"`{title} {s}`" for s in subs), ""]
    return "\n".join(lines)


# --- groups and roles --------------------------------------------------------------------------------


def access_reference(manifest) -> str:
    """The groups and RBAC roles coursehub gives a hub, from :mod:`coursehub.groups` and :mod:`coursehub.roles`."""
    from coursehub.groups import course_group_members
    from coursehub.roles import SYNC_APPLY_SCOPES, SYNC_PLAN_SCOPES, staff_roles, sync_service_role

    lines = [
        "# Groups and roles",
        "",
        "The JupyterHub groups and RBAC roles coursehub creates, generated from its code and the example",
        "manifest when this site was built. Every course gets the same pattern with its own id.",
        "",
        "## Groups",
        "",
        "| course | group | members |",
        "|---|---|---|",
    ]
    for course in manifest.courses:
        for group, members in course_group_members(course).items():
            lines.append(f"| `{course.id}` | `{group}` | {len(members)} |")
    lines.append("")
    if manifest.courses:
        course = manifest.courses[0]
        lines += [
            "## Staff roles",
            "",
            f"For `{course.id}`. Apart from `admin-ui` (the admin page itself), each scope is filtered to the",
            "course's students group, so staff reach those students and nobody else. A course's roles are",
            "granted only between its term dates.",
            "",
            "| role | granted to | scopes |",
            "|---|---|---|",
        ]
        for role in staff_roles(course):
            groups = ", ".join(f"`{g}`" for g in role.get("groups", []))
            scopes = "<br>".join(f"`{s}`" for s in role["scopes"])
            lines.append(f"| `{role['name']}` | {groups} | {scopes} |")
        lines.append("")
    sync = sync_service_role()
    lines += [
        "## The sync service",
        "",
        f"`coursehub sync` runs as the service `{', '.join(sync.get('services', []))}` with the role `{sync['name']}`.",
        "",
        "| to… | the token needs |",
        "|---|---|",
        "| plan (`coursehub sync` without `--apply`) | " + ", ".join(f"`{s}`" for s in SYNC_PLAN_SCOPES) + " |",
        "| apply (`--apply`) | " + ", ".join(f"`{s}`" for s in SYNC_APPLY_SCOPES) + " |",
        "",
    ]
    return "\n".join(lines)
