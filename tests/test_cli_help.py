"""`--help` as a person reads it: no Python types, every choice listed, one name per argument, no cut lines."""

from __future__ import annotations

import re

import pytest

from coursehub.build import families
from coursehub.cli import command  # importing the CLI registers every command


def every_command():
    root = command()
    todo = [([], root)]
    while todo:
        path, cmd = todo.pop()
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            todo.append((path + [name], sub))


PATHS = [p for p, _ in every_command()]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "coursehub")
def test_help_shows_no_python_types(run_cli, path):
    code, out, _ = run_cli(*path, "--help")
    assert code == 0
    assert not re.search(r"<(str|int|float|path|bool|list\[[^>]*\]|int range|float range)>", out), out
    assert "list[" not in out


def test_the_command_list_is_not_cut_off(run_cli):
    code, out, _ = run_cli("--help")
    commands = out.split("Commands:")[1]
    assert "..." not in commands.replace("...)", "")  # build's "(images, links, hub config, ...)" is prose
    assert "Generate every artifact (images, links, hub config, grader config, ...) from the manifest." in " ".join(commands.split())


def test_every_choice_is_listed(run_cli):
    flat = lambda *args: " ".join(run_cli(*args, "--help")[1].split())  # noqa: E731
    build_help = flat("build")
    assert all(f in build_help for f in families())
    link_help = flat("link")
    assert "[lab|notebook|rstudio|shiny|vscode]" in link_help and "[hub|lti|binder]" in link_help
    assert "[warm|kernel]" in flat("grade")
    assert "data8 or r" in flat("images", "standard")


def test_an_argument_has_one_name_everywhere():
    names: dict[str, set[str]] = {}
    for _, cmd in every_command():
        for p in cmd.params:
            if p.param_type_name == "option" and not getattr(p, "is_flag", False):
                names.setdefault(max(p.opts, key=len), set()).add(p.metavar)
            elif p.param_type_name == "argument":
                names.setdefault(p.name, set()).add(p.metavar)
    # the same option or argument shows the same value name in every command that takes it
    assert names["--course"] == {"COURSE"} and names["--today"] == {"DATE"} and names["manifest"] == {"MANIFEST"}
    assert names["--timeout"] <= {"SECONDS", "DURATION"}


def test_progress_off_a_terminal_is_plain_lines_first_some_and_last(capsys):
    from coursehub.commands._shared import Tracker

    with Tracker("step", total=3, every=3600) as t:
        t.status("waiting on the first")
        t.advance(note="one")
        t.advance()
        t.advance()
    lines = capsys.readouterr().err.splitlines()
    # the first line at once, none in between (one an hour at most), then the last
    assert lines[0] == "step: 0/3 waiting on the first"
    assert len(lines) == 2 and lines[1].startswith("step: 3/3 done in")
    with Tracker("each", every=0) as t:
        t.set_total(2)
        t.advance(note="a")
        t.advance(note="b")
    assert capsys.readouterr().err.splitlines()[:3] == ["each: 0/2", "each: 1/2 a", "each: 2/2 b"]
    with Tracker("plan") as t:
        t.status("reading the hub")
    assert capsys.readouterr().err.splitlines()[0] == "plan: reading the hub"
