"""Serialising generated data deterministically: the same data always gives the same bytes.

Config is data: generators build dicts and lists and hand them to these functions; nothing pastes
manifest strings into YAML, JSON or Python text.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from ruamel.yaml import YAML

from coursehub.escape import csv_cell


def to_json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def to_yaml(data: Any) -> bytes:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096  # never fold long strings: folded scalars are harder to diff
    yaml.allow_unicode = True
    yaml.sort_base_mapping_type_on_output = True  # type: ignore[attr-defined]
    buf = io.StringIO()
    yaml.dump(data, buf)
    return buf.getvalue().encode("utf-8")


def to_csv(header: list[str], rows: list[list[Any]]) -> bytes:
    """CSV with every cell (the header too) made safe to open in a spreadsheet (:func:`coursehub.escape.csv_cell`)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([csv_cell(c) for c in header])
    writer.writerows([csv_cell(c) for c in row] for row in rows)
    return buf.getvalue().encode("utf-8")


def load_yaml_text(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)
