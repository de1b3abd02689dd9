"""``validate`` runs every check ``build`` runs: a manifest that validates builds, one that does not is
refused by ``build`` too (exit 2, nothing written).

Every manifest in the test corpora is tried: the broken ones, the unusual-but-valid ones in
``tests/manifests/edge/`` (anchors and merges, a BOM and CRLF line endings, markup and HTML in
titles, GitHub page and SSH repository URLs, a hub page URL), the fixtures and the example university.
The hostile corpus has its own test (:mod:`tests.test_hostile_inputs`), which builds each case too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).parent
REPO = TESTS.parent
MANIFESTS = sorted(
    [
        *(TESTS / "manifests" / "broken").glob("*.yaml"),
        *(TESTS / "manifests" / "edge").glob("*.yaml"),
        *(TESTS / "fixtures" / "images").glob("*.yaml"),
        TESTS / "fixtures" / "images" / "small" / "manifest.yaml",
        TESTS / "fixtures" / "sync" / "manifest.yaml",
        REPO / "course-templates" / "example-university" / "manifest.yaml",
    ]
)


def test_the_corpus_has_manifests_on_both_sides(run_cli):
    valid = sum(run_cli("validate", path)[0] == 0 for path in MANIFESTS)
    assert valid >= 6 and len(MANIFESTS) - valid >= 30


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(REPO)))
def test_build_agrees_with_validate(path, run_cli, tmp_path):
    code, _, verr = run_cli("validate", path)
    assert code in (0, 2), verr
    out = tmp_path / "out"
    bcode, _, berr = run_cli("build", path, "-o", out)
    if code == 0:
        assert bcode == 0, f"validate accepted {path.name} but build refused it:\n{berr}"
        assert (out / "summary" / "summary.json").is_file()
    else:
        assert bcode == 2, berr
        assert not out.exists()
