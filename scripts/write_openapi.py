"""Write docs/openapi.json: the REST API's OpenAPI document, generated from the producer's resolver, with
the answers API Gateway gives itself (its authorizer, throttling, function errors and timeouts), their
bodies taken from the gateway responses nested/ingest-api.yaml customises.

Usage: python scripts/write_openapi.py docs/openapi.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from local.functions import REPO, load_template

API_TEMPLATE = REPO / "nested" / "ingest-api.yaml"
ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorResponse"}
# The answers API Gateway gives before or instead of the function (docs/decisions.md): status, gateway
# response type (FUNCTION_ERROR is not customisable), when, and the body it sends unless the template
# customises that type.
GATEWAY_ANSWERS: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("400", "BAD_REQUEST_BODY", "The body does not match the request model (API Gateway's validation)", None),
    (
        "401",
        "UNAUTHORIZED",
        "No access token, or one that is not valid (API Gateway's Cognito authorizer)",
        None,
    ),
    (
        "403",
        "ACCESS_DENIED",
        "The access token lacks the records/write scope (API Gateway's authorizer)",
        None,
    ),
    ("413", "REQUEST_TOO_LARGE", "The request is over API Gateway's 10 MB payload limit", None),
    (
        "429",
        "THROTTLED",
        "Too many requests for the stage's throttling limits: retry after `Retry-After`",
        None,
    ),
    (
        "502",
        "FUNCTION_ERROR",
        "The function failed: it raised, crashed, timed out or answered in a shape API Gateway cannot use",
        {"message": "Internal server error"},
    ),
    (
        "504",
        "INTEGRATION_TIMEOUT",
        "The function did not answer within API Gateway's integration timeout (29 seconds)",
        {"message": "Endpoint request timed out"},
    ),
]
RETRY_AFTER = {
    "description": "Seconds to wait before sending the request again",
    "schema": {"type": "integer"},
}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the ingestion API, with the Cognito bearer scheme the gateway enforces."""
    from ingest_routes import resolver  # noqa: PLC0415 - needs functions/producer on the path

    document = json.loads(
        resolver.get_openapi_json_schema(
            title="Streaming Data Solution for Amazon MSK - ingestion API",
            version="1.0.0",
            description="Produce records to the MSK topic. Authenticate with a Cognito access token "
            "carrying the records/write scope.",
        )
    )
    # Validation errors are answered 400 (ingest_routes.invalid_body), never Powertools' default 422.
    for operations in document["paths"].values():
        for operation in operations.values():
            operation["responses"].pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if f'"#/components/schemas/{unused}"' not in json.dumps(document["paths"]):
            schemas.pop(unused, None)
    document.setdefault("components", {})["securitySchemes"] = {
        "cognito": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Cognito access token with the records/write scope",
        }
    }
    document["security"] = [{"cognito": []}]
    for operation in (op for operations in document["paths"].values() for op in operations.values()):
        _add_gateway_answers(operation["responses"])
    return dict(document)


def _add_gateway_answers(responses: dict[str, Any]) -> None:
    """Each gateway answer as an example of its status, beside the function's answer with that status."""
    customised = load_template(API_TEMPLATE)["Resources"]["Api"]["Properties"]["GatewayResponses"]
    for status, response_type, when, default_body in GATEWAY_ANSWERS:
        gateway_response = customised.get(response_type, {})
        template = gateway_response.get("ResponseTemplates", {}).get("application/json")
        body = json.loads(template) if template else default_body
        if body is None:
            raise ValueError(f"{response_type}: nested/ingest-api.yaml customises no body and none is known")
        response = responses.setdefault(status, {"description": "", "content": {"application/json": {}}})
        response["description"] = (
            f"{response['description']}; or: {when}" if response["description"] else when
        )
        content = response["content"]["application/json"]
        content["schema"] = ERROR_SCHEMA
        content.setdefault("examples", {})[response_type] = {"summary": when, "value": body}
        headers = gateway_response.get("ResponseParameters", {}).get("Headers", {})
        if "Retry-After" in headers:
            response["headers"] = {
                "Retry-After": RETRY_AFTER | {"example": int(headers["Retry-After"].strip("'"))}
            }
    responses["503"]["headers"] = {"Retry-After": RETRY_AFTER}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    Path(argv[1]).write_text(json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
