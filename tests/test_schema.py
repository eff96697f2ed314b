"""`archcalc schema`: generated from the models, fresh on disk, and every bundled spec and claims file valid under it."""

from __future__ import annotations

import json

import pytest
import yaml

from archcalc.ops import REGISTRY
from archcalc.schema import claims_schema, render, spec_schema
from tests.conftest import ROOT

jsonschema = pytest.importorskip("jsonschema", reason="the schema tests need jsonschema: pip install -e '.[test]'")

SCHEMAS = ROOT / "specs" / "schema"
NETWORKS = sorted(p for p in (ROOT / "specs").rglob("*.yaml") if "claims" not in p.parts)
CLAIMS = sorted((ROOT / "specs" / "claims").glob("*.yaml"))


@pytest.fixture(scope="module")
def spec_validator():
    schema = spec_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_schema_files_are_fresh(cli):
    # regenerate with: archcalc schema -o specs/schema/spec.json; archcalc schema claims -o specs/schema/claims.json
    assert (SCHEMAS / "spec.json").read_text(encoding="utf-8") == render("spec") + "\n"
    assert (SCHEMAS / "claims.json").read_text(encoding="utf-8") == render("claims") + "\n"
    assert json.loads(cli("schema").output) == spec_schema()


def test_every_registered_op_is_in_it():
    ops = {name.removeprefix("op_") for name in spec_schema()["$defs"] if name.startswith("op_")}
    assert ops == set(REGISTRY)  # generated from the registry: nothing written by hand
    conv = spec_schema()["$defs"]["op_conv"]["properties"]["conv"]["anyOf"][0]
    assert {"out", "kernel", "stride", "padding", "groups", "connection_table", "if", "for"} <= set(conv["properties"])


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_bundled_spec_is_valid(spec_validator, path):
    errors = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in spec_validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert not errors, errors[:3]


@pytest.mark.parametrize("path", CLAIMS, ids=lambda p: p.name)
def test_every_claims_file_is_valid(path):
    validator = jsonschema.Draft202012Validator(claims_schema())
    assert not list(validator.iter_errors(yaml.safe_load(path.read_text())))


@pytest.mark.parametrize(
    "text",
    [
        "name: x\ninput: [3, 8, 8]\nlayers: [conv: {out: 4, kernel: 3, strid: 2}]\n",  # a misspelt field
        "name: x\ninput: [3, 8, 8]\nlayers: [conv: {out: 4}]\n",  # conv's kernel is required
        "name: x\ninput: [3, 8, 8]\nlayers: [{conv: {out: 4, kernel: 3}, relu: null}]\n",  # two ops in one entry
        "name: x\ninput: [3, 8, 8]\nlayers: [relu]\nextra: 1\n",  # an unknown top-level key
        "input: [3, 8, 8]\nlayers: [relu]\n",  # no name, and no spec it extends
    ],
)
def test_mistakes_are_flagged(spec_validator, text):
    assert list(spec_validator.iter_errors(yaml.safe_load(text)))


def test_expressions_and_short_forms_are_accepted(spec_validator):
    text = (
        "name: x\ninput: [3, H, W]\nargs: {w: 2}\nlayers:\n"
        "  - conv: {out: 4*w, kernel: 3, stride: [1, w], bias: not true, if: w > 1}\n"
        "  - concat: [[relu], identity]\n  - act\n  - myblock: {out: 3}\n"
    )
    assert not list(spec_validator.iter_errors(yaml.safe_load(text)))


@pytest.mark.parametrize("path", sorted((ROOT / "specs").rglob("*.yaml")), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_bundled_file_points_at_its_schema(path):
    """The editor's line (scripts/add-schema-line writes it): first, and naming a schema file that exists."""
    from archcalc.schema import schema_line

    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    assert first == schema_line(path, ROOT / "specs"), "run: .venv/bin/python scripts/add-schema-line"
    assert (path.parent / first.split("$schema=", 1)[1]).is_file()
