"""streaming_common.custom_resource: crhelper's answers to CloudFormation, without its polling clients."""

from __future__ import annotations

from typing import Any

import pytest

from streaming_common.custom_resource import CustomResource
from tests.conftest import FakeLambdaContext
from tests.integration.conftest import CloudFormationEndpoint


@pytest.mark.parametrize("sam_local", [None, "true"])
def test_no_polling_clients_and_the_environment_kept(
    monkeypatch: pytest.MonkeyPatch, sam_local: str | None
) -> None:
    if sam_local is None:
        monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    else:
        monkeypatch.setenv("AWS_SAM_LOCAL", sam_local)
    resource = CustomResource()
    assert not any(hasattr(resource, name) for name in ("_lambda_client", "_events_client", "_logs_client"))
    assert resource._sam_local == sam_local
    with pytest.raises(NotImplementedError, match="does not poll"):
        resource.poll_create(lambda _event, _context: None)


def test_answers_are_crhelpers(
    cloudformation_endpoint: CloudFormationEndpoint, lambda_context: FakeLambdaContext
) -> None:
    resource = CustomResource()

    @resource.create
    def create(event: dict[str, Any], _context: Any) -> str:
        resource.Data["Size"] = event["ResourceProperties"]["Size"]
        return "thing-1"

    @resource.delete
    def delete(_event: dict[str, Any], _context: Any) -> None:
        raise ValueError("the thing is still in use")

    resource(cloudformation_endpoint.event("Create", "Custom::Thing", {"Size": "3"}), lambda_context)
    created = cloudformation_endpoint.responses[-1]
    assert (created["Status"], created["PhysicalResourceId"], created["Data"]) == (
        "SUCCESS",
        "thing-1",
        {"Size": "3"},
    )
    event = cloudformation_endpoint.event("Delete", "Custom::Thing", {"Size": "3"}, physical_id="thing-1")
    resource(event, lambda_context)
    deleted = cloudformation_endpoint.responses[-1]
    assert (deleted["Status"], deleted["Reason"]) == ("FAILED", "the thing is still in use")
