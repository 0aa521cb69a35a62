"""docs/openapi.json is generated from the producer's routes and documents the whole contract."""

from __future__ import annotations

import json

from scripts.write_openapi import openapi_document
from tests.templates.sam_offline import REPO


def test_committed_document_matches_the_routes() -> None:
    committed = json.loads((REPO / "docs" / "openapi.json").read_text())
    assert committed == openapi_document(), "run `make openapi`"


def test_document_has_the_route_and_every_status_of_the_contract() -> None:
    from ingest_routes import resolver

    document = openapi_document()
    routes = {
        (route.path, method.lower())
        for route in resolver._static_routes + resolver._dynamic_routes
        for method in route.method.split("|")
    }
    documented = {
        (path.replace("{", "<").replace("}", ">"), method)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert documented == routes == {("/topics/<topic>/records", "post")}
    operation = document["paths"]["/topics/{topic}/records"]["post"]
    assert {"200", "207", "400", "403", "413", "503"} <= set(operation["responses"])
    assert "ProduceRequest" in document["components"]["schemas"]
