"""Requests the deployer refuses before any call, with a reason that says what to change."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import FakeLambdaContext
from tests.integration.conftest import CloudFormationEndpoint
from tests.integration.flink_deployer.conftest import FlinkApi, Requests, sample_event


@pytest.mark.parametrize(
    ("sample", "changes", "reason"),
    [
        ("code-create", {"CodeBucket": ""}, "CodeBucket must be a bucket name"),
        ("code-create", {"KeyPrefix": "application"}, "KeyPrefix must be empty or a folder"),
        ("run-create", {"ApplicationName": ""}, "ApplicationName must be the application's name"),
        ("run-create", {"StartTimeoutSeconds": "0"}, "StartTimeoutSeconds must be a whole number of seconds"),
        ("run-update", {"StopTimeoutSeconds": "901"}, "StopTimeoutSeconds must be a whole number of seconds"),
        ("run-create", {"ApplicationRestoreType": "LATEST"}, "ApplicationRestoreType must be one of"),
        ("run-create", {"SnapshotName": "nightly"}, "SnapshotName is needed with RESTORE_FROM_CUSTOM"),
        ("run-update", {"AllowNonRestoredState": "yes"}, "AllowNonRestoredState must be true or false"),
    ],
)
def test_bad_properties_fail_clearly_before_any_call(
    flink: FlinkApi, requests: Requests, sample: str, changes: dict[str, str], reason: str
) -> None:
    # no S3 here, and the stubbed Managed Flink API answers nothing: a call would fail differently
    answer = requests.send(sample, **changes)
    assert answer["Status"] == "FAILED"
    assert reason in answer["Reason"]


def test_an_unknown_resource_type_fails(
    deployer: Any, cloudformation_endpoint: CloudFormationEndpoint, lambda_context: FakeLambdaContext
) -> None:
    event = sample_event("run-create") | {
        "ResourceType": "Custom::FlinkApplication",
        "ResponseURL": cloudformation_endpoint.url,
    }
    deployer.lambda_handler(event, lambda_context)
    answer = cloudformation_endpoint.responses[-1]
    assert answer["Status"] == "FAILED"
    assert "unknown resource type Custom::FlinkApplication" in answer["Reason"]
