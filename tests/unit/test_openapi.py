"""docs/openapi.json is generated from the producer's routes and documents the whole contract."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from scripts.write_openapi import openapi_document
from tests.templates.sam_offline import REPO


def test_committed_document_matches_the_routes() -> None:
    committed = json.loads((REPO / "docs" / "openapi.json").read_text())
    assert committed == openapi_document(), "run `make openapi`"


def _routes_the_api_sends_to_functions() -> set[tuple[str, str]]:
    """(path, method) of every Api event of a function in nested/ingest-api.yaml: what API Gateway routes."""
    from local.functions import load_template

    resources = load_template(REPO / "nested" / "ingest-api.yaml")["Resources"]
    return {
        (event["Properties"]["Path"], event["Properties"]["Method"].lower())
        for resource in resources.values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "Api"
    }


def test_document_has_the_route_and_every_status_of_the_contract() -> None:
    document = openapi_document()
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert documented == _routes_the_api_sends_to_functions() == {("/topics/{topic}/records", "post")}
    operation = document["paths"]["/topics/{topic}/records"]["post"]
    assert set(operation["responses"]) == {
        "200",
        "207",
        "400",
        "401",
        "403",
        "413",
        "429",
        "502",
        "503",
        "504",
    }
    assert "ProduceRequest" in document["components"]["schemas"]


def test_api_gateways_own_answers_are_documented_with_the_bodies_it_sends() -> None:
    from local.functions import load_template

    operation = openapi_document()["paths"]["/topics/{topic}/records"]["post"]
    customised = load_template(REPO / "nested" / "ingest-api.yaml")["Resources"]["Api"]["Properties"][
        "GatewayResponses"
    ]
    examples = {
        (status, name): example["value"]
        for status, response in operation["responses"].items()
        for name, example in response["content"]["application/json"].get("examples", {}).items()
    }
    # The bodies the template customises, under their status
    for status, response_type in [
        ("400", "BAD_REQUEST_BODY"),
        ("401", "UNAUTHORIZED"),
        ("403", "ACCESS_DENIED"),
        ("413", "REQUEST_TOO_LARGE"),
        ("429", "THROTTLED"),
    ]:
        template = customised[response_type]["ResponseTemplates"]["application/json"]
        assert examples[(status, response_type)] == json.loads(template)
    # API Gateway's own bodies for a function error and an integration timeout
    assert examples[("502", "FUNCTION_ERROR")] == {"message": "Internal server error"}
    assert examples[("504", "INTEGRATION_TIMEOUT")] == {"message": "Endpoint request timed out"}
    assert operation["responses"]["429"]["headers"]["Retry-After"]["example"] == 1
    assert "Retry-After" in operation["responses"]["503"]["headers"]


def test_every_documented_body_matches_its_schema() -> None:
    document = openapi_document()
    schemas = document["components"]["schemas"]
    for status, response in document["paths"]["/topics/{topic}/records"]["post"]["responses"].items():
        content = response["content"]["application/json"]
        schema = content["schema"] | {"components": {"schemas": schemas}}  # its $refs resolve in here
        for name, example in content.get("examples", {}).items():
            errors = list(Draft202012Validator(schema).iter_errors(example["value"]))
            assert not errors, f"{status} {name}: {errors}"
