"""The package's shape, checked: what may import what, how large a module may grow, and stable codes.

- No command module imports :mod:`coursehub.cli` (commands share :mod:`coursehub.commands._shared`).
- Code under ``coursehub/hub/runtime/`` runs inside JupyterHub, where coursehub may not be installed:
  it imports the standard library only, its own siblings, and the libraries JupyterHub itself is built
  on (it runs in JupyterHub's process, so those are always there: tornado, SQLAlchemy, traitlets).
- A module over the size limit says in its docstring why it is one concern.
- Every problem a broken manifest produces carries a stable ``code``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from coursehub.errors import ManifestError
from coursehub.manifest.loader import load_manifest

PACKAGE = Path(__file__).resolve().parents[1] / "coursehub"
MAX_LINES = 450


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
    return names


def test_no_command_imports_the_cli():
    offenders = {
        str(p.relative_to(PACKAGE)): name
        for p in (PACKAGE / "commands").glob("*.py")
        for name in _imports(p)
        if name == "coursehub.cli" or name.startswith("coursehub.cli.")
    }
    assert not offenders


#: JupyterHub's own dependencies: present wherever the runtime runs, since it runs inside the hub.
HUB_LIBRARIES = {"jupyterhub", "tornado", "sqlalchemy", "traitlets"}


def test_the_hub_runtime_imports_only_the_standard_library():
    allowed = set(sys.stdlib_module_names) | {"__future__"} | HUB_LIBRARIES
    offenders = []
    for path in (PACKAGE / "hub" / "runtime").glob("*.py"):
        for name in _imports(path):
            if name.startswith("coursehub.hub.runtime"):
                continue  # a sibling, shipped beside it
            if name.split(".")[0] not in allowed:
                offenders.append(f"{path.name}: {name}")
    assert not offenders


def test_the_runtime_check_catches_a_third_party_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import requests\nfrom coursehub.manifest import Course\n")
    assert [n for n in _imports(bad) if n.split(".")[0] not in sys.stdlib_module_names] == [
        "requests", "coursehub.manifest", "coursehub.manifest.Course"
    ]


def test_large_modules_say_why_they_are_one_concern():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_LINES:
            doc = ast.get_docstring(ast.parse(text)) or ""
            if "One concern" not in doc:
                offenders.append(f"{path.relative_to(PACKAGE)} ({text.count(chr(10))} lines)")
    assert not offenders, f"split these modules or say why each is one concern: {offenders}"


BROKEN = sorted((Path(__file__).parent / "manifests" / "broken").glob("*.yaml"))


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_every_problem_has_a_stable_code(path):
    try:
        _, problems = load_manifest(path, strict=True)
    except ManifestError as exc:
        problems = exc.problems
    assert problems, "a broken manifest must give at least one problem"
    assert all(p.code and p.code == p.code.strip().lower() and " " not in p.code for p in problems), [
        (p.code, p.message) for p in problems
    ]
