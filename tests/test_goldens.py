"""Goldens of the ``links`` and ``cost`` families of the example university (the ``hub`` family's are in
``test_hub_config.py``). A changed golden is a changed artifact: review the diff, then
``pytest --update-goldens``."""

from __future__ import annotations

import pytest

from coursehub.build import render
from goldens import check_goldens


def _picture(rel: str) -> bool:
    # QR codes are decoded back to their links and charts are checked for determinism by their own tests
    return rel.endswith((".png", ".svg"))


@pytest.mark.parametrize("family", ["links", "cost"])
def test_example_family_matches_goldens(family, example_manifest, update_goldens):
    files = render(example_manifest, only=[family]).files
    assert any(not _picture(rel) for rel in files)
    check_goldens(files, update=update_goldens, skip=_picture)
