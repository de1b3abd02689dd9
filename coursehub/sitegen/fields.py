"""The manifest reference page, generated from the pydantic models so it cannot drift from them.

It walks the models through their JSON Schema (the same one ``coursehub schema`` prints) and lists
every field with its type, default and description; a field added to a model appears by itself.
"""

from __future__ import annotations

import json
import typing

from pydantic import BaseModel

from coursehub.manifest import ByteSize, Duration, Manifest
from coursehub.manifest.schema import manifest_schema
from coursehub.sitegen.markdown import cell as _cell
from coursehub.sitegen.markdown import prose as _prose


def _json_schema_of(annotated) -> dict:
    for meta in typing.get_args(annotated)[1:]:
        if hasattr(meta, "json_schema"):
            return meta.json_schema
    raise LookupError(f"{annotated} carries no WithJsonSchema")


#: The schemas of the value types with a short spelling, recognised wherever they appear.
_NAMED_VALUES = {
    "size": _json_schema_of(ByteSize)["anyOf"],
    "duration": _json_schema_of(Duration)["anyOf"],
}
_VALUE_HELP = {
    "size": _json_schema_of(ByteSize)["description"],
    "duration": _json_schema_of(Duration)["description"],
}


def anchor(model_name: str) -> str:
    """The heading anchor of a model's section (the name, lowercased; what mkdocs' toc generates)."""
    return model_name.lower()


def _models(root: type[BaseModel] | None = None) -> dict[str, type[BaseModel]]:
    """Every model reachable from ``root`` (the manifest), by class name (the JSON Schema's ``$defs`` keys)."""
    found: dict[str, type[BaseModel]] = {}

    def visit(tp) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp.__name__ in found:
                return
            found[tp.__name__] = tp
            for f in tp.model_fields.values():
                visit(f.annotation)
            return
        for arg in typing.get_args(tp):
            visit(arg)

    visit(root or Manifest)
    return found


def type_text(node: dict) -> str:
    """A JSON Schema node as a short Markdown type: ``size``, ``list of [Assignment](#assignment)``."""
    for name, variants in _NAMED_VALUES.items():
        if node.get("anyOf") == variants:
            return name
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{anchor(name)})"
    if "anyOf" in node:
        parts = [type_text(n) for n in node["anyOf"] if n.get("type") != "null"]
        text = " or ".join(parts)
        return text + (" or null" if len(parts) < len(node["anyOf"]) else "")
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type")
    if kind == "array":
        return "list of " + type_text(node.get("items", {}))
    if kind == "object":
        values = node.get("additionalProperties") or next(iter(node.get("patternProperties", {}).values()), {})
        return "map of text to " + type_text(values)
    if kind == "string" and node.get("format") == "date":
        return "date (YYYY-MM-DD)"
    return {"string": "text", "integer": "integer", "number": "number", "boolean": "true/false"}.get(kind, "any")


def _constraints(node: dict) -> list[str]:
    rules = []
    for key, word in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<")):
        if key in node:
            rules.append(f"{word} {node[key]}")
    if "maxLength" in node:
        rules.append(f"at most {node['maxLength']} characters")
    if "pattern" in node and node.get("type") == "string":
        rules.append(f"matches `{node['pattern']}`")
    return rules


def _short(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _default_text(model: type[BaseModel], name: str) -> str:
    field = model.model_fields[name]
    if field.is_required():
        return "**required**"
    value = field.get_default(call_default_factory=True, validated_data={})
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", exclude_none=True)
    elif isinstance(value, (list, dict)):
        value = json.loads(json.dumps(value, default=str))
    # Scalar defaults are kept as written in the model (10m, 2G): the spelling a manifest would use.
    if value is None:
        return "none"
    if value in ({}, []):
        return "empty"
    return f"`{_short(value)}`"


def manifest_reference() -> str:
    """The manifest reference page: one section per model, one table row per field."""
    schema = manifest_schema()
    defs = schema.get("$defs", {})
    models = _models()
    lines = [
        "# Manifest reference",
        "",
        "Every key of the course manifest, generated from coursehub's pydantic models when this site was",
        "built (the same source as `coursehub schema`, whose output is also here as",
        "[manifest.schema.json](manifest.schema.json) for editors). Unknown keys are errors. Sizes and",
        "durations accept a short spelling:",
        "",
        f"- **size**: {_VALUE_HELP['size']}",
        f"- **duration**: {_VALUE_HELP['duration']}",
        "",
    ]
    ordered = ["Manifest"] + [name for name in models if name != "Manifest"]
    for name in ordered:
        model = models[name]
        node = schema if name == "Manifest" else defs[name]
        lines += [f"## {name}", "", _prose((node.get("description") or model.__doc__ or "").strip()), ""]
        lines += ["| key | type | default | description |", "|---|---|---|---|"]
        for field_name, prop in node.get("properties", {}).items():
            described = _prose(prop.get("description", ""))
            rules = _constraints(prop)
            if rules:
                described += f" ({'; '.join(rules)})"
            row = [f"`{field_name}`", type_text(prop), _default_text(model, field_name), described]
            lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
        lines.append("")
    return "\n".join(lines)
