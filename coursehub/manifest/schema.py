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
    return schema


def schema_text() -> str:
    return json.dumps(manifest_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
