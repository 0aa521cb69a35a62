"""The API Gateway account role custom resource through its real handler, against moto's API Gateway
account settings and a CloudFormation response endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from local import aws
from local.functions import load_handler
from tests.conftest import FakeLambdaContext
from tests.integration.conftest import CloudFormationEndpoint

ROLE = "Custom::ApiGatewayCloudWatchRole"
STACK_ROLE = "arn:aws:iam::123456789012:role/stack-ApiGatewayCloudWatchRole-1"
OTHER_ROLE = "arn:aws:iam::123456789012:role/platform-team-apigateway-logs"


@pytest.fixture
def apigateway(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return aws.client("apigateway", moto_endpoint)


@pytest.fixture
def role_handler(apigateway: Any) -> Any:
    return load_handler("api_gateway_account")


def test_an_account_without_a_role_gets_the_stacks(
    role_handler: Any,
    apigateway: Any,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
) -> None:
    assert not apigateway.get_account().get("cloudwatchRoleArn")
    role_handler.lambda_handler(
        cloudformation_endpoint.event("Create", ROLE, {"RoleArn": STACK_ROLE}), lambda_context
    )
    answer = cloudformation_endpoint.responses[-1]
    assert answer["Status"] == "SUCCESS", answer.get("Reason")
    assert answer["Data"] == {"RoleArn": STACK_ROLE, "SetByThisStack": "true"}
    assert apigateway.get_account()["cloudwatchRoleArn"] == STACK_ROLE


def test_a_role_the_account_already_has_is_never_overwritten(
    role_handler: Any,
    apigateway: Any,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
) -> None:
    apigateway.update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": OTHER_ROLE}]
    )
    for request in ("Create", "Update"):
        role_handler.lambda_handler(
            cloudformation_endpoint.event(
                request, ROLE, {"RoleArn": STACK_ROLE}, "api-gateway-account-cloudwatch-role"
            ),
            lambda_context,
        )
    assert [answer["Data"]["SetByThisStack"] for answer in cloudformation_endpoint.responses] == [
        "false",
        "false",
    ]
    assert apigateway.get_account()["cloudwatchRoleArn"] == OTHER_ROLE


def test_deleting_the_stack_leaves_the_account_setting(
    role_handler: Any,
    apigateway: Any,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
) -> None:
    role_handler.lambda_handler(
        cloudformation_endpoint.event("Create", ROLE, {"RoleArn": STACK_ROLE}), lambda_context
    )
    role_handler.lambda_handler(
        cloudformation_endpoint.event(
            "Delete", ROLE, {"RoleArn": STACK_ROLE}, "api-gateway-account-cloudwatch-role"
        ),
        lambda_context,
    )
    assert cloudformation_endpoint.responses[-1]["Status"] == "SUCCESS"
    # Other APIs of the account may log through it: the role stays set (and the template retains the role).
    assert apigateway.get_account()["cloudwatchRoleArn"] == STACK_ROLE


def test_a_property_that_is_not_a_role_fails_clearly(
    role_handler: Any, cloudformation_endpoint: CloudFormationEndpoint, lambda_context: FakeLambdaContext
) -> None:
    role_handler.lambda_handler(
        cloudformation_endpoint.event("Create", ROLE, {"RoleArn": "not-a-role"}), lambda_context
    )
    answer = cloudformation_endpoint.responses[-1]
    assert answer["Status"] == "FAILED"
    assert "RoleArn must be an IAM role ARN" in answer["Reason"]
