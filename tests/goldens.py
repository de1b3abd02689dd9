"""Golden files: whole generated artifacts compared after parsing, rewritten with ``pytest --update-goldens``.

``tests/golden/<family>/`` holds the example university's output of one build family. Text artifacts are
compared after parsing (JSON and YAML as data, CSV as rows), so a golden diff is a reviewable change of
content, never of formatting. Pictures (QR codes, charts) are left out: their own tests decode or
re-render them.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from coursehub import emit

GOLDEN = Path(__file__).parent / "golden"


def parsed(rel: str, content: bytes):
    text = content.decode("utf-8")
    if rel.endswith(".json"):
        return json.loads(text)
    if rel.endswith(".yaml"):
        return emit.load_yaml_text(text)
    if rel.endswith(".csv"):
        return list(csv.reader(io.StringIO(text)))
    return text


def check_goldens(files: dict[str, bytes], *, update: bool, skip=lambda rel: False) -> None:
    """Compare generated ``files`` (``family/...`` paths) with their goldens, or rewrite them."""
    compared = {rel: content for rel, content in files.items() if not skip(rel)}
    families = {rel.split("/", 1)[0] for rel in compared}
    if update:
        for family in families:
            for old in (GOLDEN / family).rglob("*"):
                if old.is_file():
                    old.unlink()
        for rel, content in compared.items():
            golden = GOLDEN / rel
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_bytes(content)
        return
    for family in families:
        on_disk = {str(p.relative_to(GOLDEN)) for p in (GOLDEN / family).rglob("*") if p.is_file()}
        extra = on_disk - set(compared)
        assert not extra, f"goldens no build writes any more: {sorted(extra)}; run pytest --update-goldens"
    for rel, content in compared.items():
        golden = GOLDEN / rel
        assert golden.exists(), f"no golden for {rel}; run pytest --update-goldens"
        assert parsed(rel, content) == parsed(rel, golden.read_bytes()), f"{rel} differs from its golden"
