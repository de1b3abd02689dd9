"""The manifest's JSON Schema, generated from the pydantic models (never edited by hand)."""

from __future__ import annotations

import json

from coursehub.manifest import Manifest

#: Where the committed copy lives; a test keeps it equal to :func:`schema_text`.
SCHEMA_FILE = "course-templates/manifest.schema.json"


def manifest_schema() -> dict:
    schema = Manifest.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "coursehub course manifest"
    _close_pattern_maps(schema)
    return schema


def _close_pattern_maps(node) -> None:
    """A map whose keys must match a pattern (image keys, environment names) refuses other keys, as
    validation does; pydantic leaves ``additionalProperties`` open beside ``patternProperties``."""
    if isinstance(node, dict):
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close_pattern_maps(value)
    elif isinstance(node, list):
        for value in node:
            _close_pattern_maps(value)


def schema_text() -> str:
    return json.dumps(manifest_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
