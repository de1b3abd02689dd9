"""The corpus of broken manifests: each gives its own located, actionable message and exit 2.

Every ``tests/manifests/broken/NAME.yaml`` has a ``NAME.expect`` beside it with ``# expect: TEXT`` lines
(each must appear in stderr) and an optional ``# args: ...`` line of extra CLI options.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from coursehub.errors import ManifestError
from coursehub.manifest.loader import load_manifest

CORPUS = Path(__file__).parent / "manifests" / "broken"
CASES = sorted(p.stem for p in CORPUS.glob("*.yaml"))


def test_corpus_is_large_enough():
    assert len(CASES) >= 25


def _expectations(name: str) -> tuple[list[str], list[str]]:
    expect, args = [], []
    for line in (CORPUS / f"{name}.expect").read_text().splitlines():
        if line.startswith("# expect: "):
            expect.append(line.removeprefix("# expect: "))
        elif line.startswith("# args: "):
            args = line.removeprefix("# args: ").split()
    return expect, args


@pytest.mark.parametrize("name", CASES)
def test_broken_manifest_reports_located_problem(name, run_cli):
    expect, args = _expectations(name)
    assert expect, f"{name}.expect lists no expected message"
    code, out, err = run_cli("validate", CORPUS / f"{name}.yaml", *args)
    assert code == 2, err
    assert "Traceback" not in err and "Traceback" not in out
    flat = " ".join(err.split())  # rich may wrap long lines
    for text in expect:
        assert " ".join(text.split()) in flat, f"{name}: expected {text!r} in:\n{err}"
    # every error line names the manifest or roster file it is about
    for line in err.splitlines():
        if ": error:" in line:
            assert line.split(":", 1)[0].endswith((".yaml", ".csv")), line


def test_lenient_roster_rows_are_warnings_and_skipped(run_cli):
    code, out, err = run_cli("validate", CORPUS / "roster-bad-rows.yaml")
    assert code == 0
    assert "bad-rows.csv:3: warning:" in err
    manifest, warnings = load_manifest(CORPUS / "roster-bad-rows.yaml", strict=False)
    assert manifest.courses[0].roster == ["ana.silva"]
    assert {w.line for w in warnings} == {3, 4}


def test_all_problems_reported_at_once():
    with pytest.raises(ManifestError) as info:
        load_manifest(CORPUS / "many-problems-at-once.yaml")
    paths = {p.path for p in info.value.problems}
    assert {"hub.url", "courses[0].term.end", "courses[0].image"} <= paths


def test_missing_manifest_file(run_cli, tmp_path):
    code, out, err = run_cli("validate", tmp_path / "nope.yaml")
    assert code == 2
    assert "nope.yaml: error: the manifest file does not exist" in err
