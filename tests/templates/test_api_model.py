"""The request model API Gateway validates against agrees with the producer's own model."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft4Validator
from pydantic import ValidationError

from scripts.make_sample_events import producer_events
from tests.templates.sam_offline import REPO, load_template

SCHEMA = load_template(REPO / "nested" / "ingest-api.yaml")["Resources"]["Api"]["Properties"]["Models"][
    "ProduceRequest"
]
BODIES = {
    name: event["body"] for name, event in producer_events().items() if not name.endswith("not-json.json")
}
EXTRA_BODIES = {
    "tombstone": '{"records": [{"key": "k", "value": null}]}',
    "nested-value": '{"records": [{"value": {"a": [1, {"b": null}]}, "headers": {}}]}',
    "null-key": '{"records": [{"key": null, "value": 1}]}',
    "records-not-a-list": '{"records": {"value": 1}}',
    "header-null": '{"records": [{"value": 1, "headers": {"h": null}}]}',
}


def test_the_schema_is_valid_draft_4() -> None:
    Draft4Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("name", sorted(BODIES | EXTRA_BODIES))
def test_gateway_and_function_accept_and_refuse_the_same_bodies(name: str) -> None:
    from request_models import ProduceRequest

    body = (BODIES | EXTRA_BODIES)[name]
    gateway_accepts = Draft4Validator(SCHEMA).is_valid(json.loads(body))
    try:
        ProduceRequest.model_validate_json(body)
        function_accepts = True
    except ValidationError:
        function_accepts = False
    assert gateway_accepts == function_accepts, (
        f"{name}: gateway {gateway_accepts}, function {function_accepts}"
    )


def test_the_samples_include_both_verdicts() -> None:
    verdicts = {Draft4Validator(SCHEMA).is_valid(json.loads(body)) for body in BODIES.values()}
    assert verdicts == {True, False}
