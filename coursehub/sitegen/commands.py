"""The command reference page, generated from the command line itself.

It walks the click command tree typer builds from :data:`coursehub.cli.app`, so a command another
capability registers appears without anyone editing this module. Typer ships its own copy of click,
so the tree is walked by duck typing rather than ``isinstance(click.Group)``.
"""

from __future__ import annotations

from coursehub.sitegen.markdown import cell as _cell
from coursehub.sitegen.markdown import prose as _prose


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
