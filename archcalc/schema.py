"""`archcalc schema`: the JSON Schema of the spec language and of claims files, generated from
the pydantic models (``Spec``, ``BlockDef``, every registered op, ``ClaimsFile``), never
written by hand — an op added to the registry is in it at once.

A spec as written in YAML differs from the models in three ways, which the schema follows:

* a layer is ``op`` or ``op: {fields}`` (``concat: [[…], […]]`` for branches), or a block
  call ``name: {args}`` — the models see ``{"kind": op, …}`` after ``normalise_entry``;
* any number, true/false or pair may be an expression in text (``out: 4*width``), evaluated
  before the models validate, so each of those also accepts a string;
* ``if:``, ``for:`` (archcalc.language.entries) and ``extends:`` are read before validation.

Editors with a YAML extension (the ``# yaml-language-server: $schema=…`` line) then complete
op names and fields and flag an unknown field or op as it is typed.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

DIALECT = "https://json-schema.org/draft/2020-12/schema"
EXPRESSION = {"type": "string", "description": "an expression of the spec language, e.g. 4*width"}
ENTRY_KEYS = {
    "if": {"anyOf": [{"type": "boolean"}, EXPRESSION], "description": "the entry exists only where this holds"},
    "for": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}], "description": "loops: i in range(n)"},
}


@cache
def spec_schema() -> dict[str, Any]:
    """(Built once per process: the registry does not change; callers must not modify it.)"""
    from archcalc.ops import REGISTRY
    from archcalc.spec import BlockDef, Spec

    defs: dict[str, Any] = {}
    layers = []
    for kind, cls in sorted(REGISTRY.items()):
        fields = _relaxed(_fields(cls.model_json_schema(by_alias=True, ref_template="#/$defs/{model}"), defs))
        value = {"anyOf": [fields, {"type": "null"}]}
        if "branches" in fields["properties"]:  # concat: [[…], […]]: the branches themselves
            value["anyOf"].append({"$ref": "#/$defs/branches"})
        defs[f"op_{kind}"] = {"type": "object", "properties": {kind: value}, "required": [kind], "additionalProperties": False}
        layers.append({"$ref": f"#/$defs/op_{kind}"})
    branch = {"anyOf": [{"type": "array", "items": {"$ref": "#/$defs/layer"}}, {"$ref": "#/$defs/layer"}]}  # a list, or identity
    defs["branches"] = {"type": "array", "items": branch}
    defs["block_call"] = {
        "type": "object",
        "description": "a block of `blocks:` (or an op chosen by an argument), with its arguments",
        "minProperties": 1,
        "maxProperties": 1,
        "propertyNames": {"not": {"enum": sorted(REGISTRY)}},
        "additionalProperties": {"anyOf": [{"type": "object"}, {"type": "null"}]},
    }
    names = {"type": "string", "description": "an op (" + ", ".join(sorted(REGISTRY)) + "), a block, or an argument naming one"}
    defs["layer"] = {"anyOf": [names, *layers, {"$ref": "#/$defs/block_call"}]}
    block = _with_layers(BlockDef.model_json_schema(by_alias=True), defs)
    defs["BlockDef"] = block
    spec = _with_layers(Spec.model_json_schema(by_alias=True, ref_template="#/$defs/{model}"), defs)
    spec["properties"]["extends"] = {"type": "string", "description": "a spec this one inherits, by path from this file"}
    spec["properties"]["blocks"] = {"type": "object", "additionalProperties": {"$ref": "#/$defs/BlockDef"}}
    required = spec.pop("required", [])  # a spec that extends another inherits what it leaves out
    spec["if"], spec["then"], spec["else"] = {"required": ["extends"]}, {}, {"required": required}
    return {"$schema": DIALECT, "$id": "archcalc-spec", **spec, "$defs": {**spec.pop("$defs", {}), **defs}}


def claims_schema() -> dict[str, Any]:
    from archcalc.claims import ClaimsFile

    schema = ClaimsFile.model_json_schema(by_alias=True)
    return {"$schema": DIALECT, "$id": "archcalc-claims", **_relaxed(schema)}


def _fields(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """An op's fields as a layer writes them: without ``kind`` (the key names it), with if/for."""
    defs.update(schema.pop("$defs", {}))
    properties = {key: value for key, value in schema.get("properties", {}).items() if key != "kind"}
    if "from" in properties:  # one name or a list of them (a before-validator makes the list)
        properties["from"] = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}, {"type": "null"}]}
    fields = {
        "type": "object",
        "description": schema.get("description", ""),
        "properties": {**properties, **ENTRY_KEYS},
        "additionalProperties": False,
    }
    required = [key for key in schema.get("required", []) if key != "kind"]
    return {**fields, "required": required} if required else fields


def _with_layers(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """``layers`` as layer entries; ``args`` and ``let`` values anything (they are the user's)."""
    schema["properties"]["layers"] = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/layer"}}
    return _relaxed(schema, skip=("layers", "args", "let", "blocks"))


def _relaxed(schema: Any, skip: tuple[str, ...] = ()) -> Any:
    """Every number, true/false and pair also accepts an expression (text); arrays of pairs a
    single value (``kernel: 3`` is 3×3), as the language reads them."""
    if isinstance(schema, list):
        return [_relaxed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: value if key in skip else _relaxed(value) for key, value in schema.items()}
    if "properties" in schema:
        out["properties"] = {k: v if k in skip else _relaxed(v) for k, v in schema["properties"].items()}
    kind = schema.get("type")
    if kind in ("integer", "number", "boolean"):
        return {"anyOf": [out, EXPRESSION]}
    if kind == "array" and "prefixItems" in schema:
        return {"anyOf": [out, {"type": "integer"}, EXPRESSION]}
    return out


def render(which: str) -> str:
    schema = spec_schema() if which == "spec" else claims_schema()
    return json.dumps(schema, indent=2, ensure_ascii=False)


SCHEMA_FOLDER = "schema"  # under specs/: spec.json, claims.json


def write_schemas(folder: Path) -> None:
    """specs/schema/spec.json and claims.json, as `archcalc schema` prints them."""
    folder.mkdir(parents=True, exist_ok=True)
    for which in ("spec", "claims"):
        (folder / f"{which}.json").write_text(render(which) + "\n", encoding="utf-8")


def schema_line(path: Path, specs: Path) -> str:
    """The `# yaml-language-server: $schema=…` line of a bundled file: the schema beside the zoo,
    by a relative path (it ships inside the package with the specs)."""
    which = "claims" if "claims" in path.relative_to(specs).parts else "spec"
    target = os.path.relpath(specs / SCHEMA_FOLDER / f"{which}.json", path.parent)
    return f"# yaml-language-server: $schema={Path(target).as_posix()}"
