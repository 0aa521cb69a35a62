"""Write docs/openapi.json: the REST API's OpenAPI document, generated from the producer's resolver.

Usage: python scripts/write_openapi.py docs/openapi.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


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
    return dict(document)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    Path(argv[1]).write_text(json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
