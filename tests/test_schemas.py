"""The JSON Schemas of the definition files: valid Draft 2020-12 (checked here,
not on every lint run), and the inlined validators lint uses agree with
jsonschema's own resolution of the ``$ref``s."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from engine.definitions import validate
from engine.definitions.loader import parse

NAMES = validate.schema_names()


def _reference_validator(name: str) -> Any:
    resources = [(p.resolve().as_uri(), Resource.from_contents(json.loads(p.read_text(encoding="utf-8"))))
                 for p in validate.SCHEMA_DIR.glob("*.schema.json")]
    registry = Registry().with_resources(resources)
    return Draft202012Validator({"$ref": validate.schema_path(name).resolve().as_uri()}, registry=registry)


@pytest.mark.parametrize("name", NAMES + ["common"])
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    Draft202012Validator.check_schema(json.loads(validate.schema_path(name).read_text(encoding="utf-8")))


@pytest.mark.parametrize("name", NAMES)
def test_inlined_schema_has_no_references_left(name: str) -> None:
    text = json.dumps(validate._validator(name).schema)
    assert '"$ref"' not in text


BROKEN = {
    "process": "schema: itsm/process@1\nprocess: Bad-Id\nversion: x\nstates: {new: {status: 1}}\n"
               "actions: {go: {from: [new], to: nowhere, roles: r}}\nfoo: 1\n",
    "sla": "schema: itsm/codes@1\ntable: sla\nvalues:\n  standard:\n    targets: {P1: {response: 1:30}}\n",
    "report": "schema: itsm/report@1\nreport: w\nkpis: [{kpi: nope, params: {group_by: colour}}]\n",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_inlined_validator_finds_what_jsonschema_finds(name: str) -> None:
    data = parse(BROKEN[name], f"{name}.yaml").data
    ours = sorted((list(e.absolute_path), e.validator) for e in validate._validator(name).iter_errors(data))
    theirs = sorted((list(e.absolute_path), e.validator) for e in _reference_validator(name).iter_errors(data))
    assert ours and ours == theirs
