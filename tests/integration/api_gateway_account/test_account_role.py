"""The API Gateway account role custom resource through its real handler, against moto's IAM and API
Gateway account settings and a CloudFormation response endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from local import aws
from local.functions import load_handler
from tests.conftest import FakeLambdaContext
from tests.integration.conftest import CloudFormationEndpoint

ROLE = "AWS::CloudFormation::CustomResource"
PHYSICAL_ID = "api-gateway-account-cloudwatch-role"
POLICY = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
PROPERTIES = {"RoleName": "apigateway-cloudwatch-logs-us-east-1", "ManagedPolicyArn": POLICY}
TRUST_API_GATEWAY = (
    '{"Statement": [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},'
    ' "Action": "sts:AssumeRole"}]}'
)


def _set_account_role(apigateway: Any, role_arn: str) -> None:
    apigateway.update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role_arn}]
    )


@pytest.fixture
def apigateway(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    # AWS managed policies exist in every account; moto loads them only when asked to.
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    return aws.client("apigateway", moto_endpoint)


@pytest.fixture
def iam(moto_endpoint: str) -> Any:
    return aws.client("iam", moto_endpoint)


@pytest.fixture
def role_handler(apigateway: Any) -> Any:
    return load_handler("api_gateway_account")


def test_an_account_without_a_role_gets_one_for_api_gateway_only(
    role_handler: Any,
    apigateway: Any,
    iam: Any,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
) -> None:
    assert not apigateway.get_account().get("cloudwatchRoleArn")
    answer = cloudformation_endpoint.ask(role_handler, lambda_context, "Create", ROLE, PROPERTIES)
    assert answer["Status"] == "SUCCESS", answer.get("Reason")
    role = iam.get_role(RoleName=PROPERTIES["RoleName"])["Role"]
    assert answer["Data"] == {"RoleArn": role["Arn"], "SetByThisStack": "true"}
    assert apigateway.get_account()["cloudwatchRoleArn"] == role["Arn"]
    # AWS's documented trust policy for this role: API Gateway, with no condition
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    attached = iam.list_attached_role_policies(RoleName=PROPERTIES["RoleName"])["AttachedPolicies"]
    assert [policy["PolicyArn"] for policy in attached] == [POLICY]


def test_a_role_the_account_already_has_is_never_overwritten(
    role_handler: Any,
    apigateway: Any,
    iam: Any,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
) -> None:
    other = iam.create_role(
        RoleName="platform-team-apigateway-logs", AssumeRolePolicyDocument=TRUST_API_GATEWAY
    )
    _set_account_role(apigateway, other["Role"]["Arn"])
    for request in ("Create", "Update"):
        event = cloudformation_endpoint.event(request, ROLE, PROPERTIES, PHYSICAL_ID)
        role_handler.lambda_handler(event, lambda_context)
    assert [answer["Data"]["SetByThisStack"] for answer in cloudformation_endpoint.responses] == [
        "false",
        "false",
    ]
    assert apigateway.get_account()["cloudwatchRoleArn"] == other["Role"]["Arn"]
    assert [role["RoleName"] for role in iam.list_roles()["Roles"]] == ["platform-team-apigateway-logs"]


def test_a_setting_whose_role_was_deleted_is_replaced(
    role_handler: Any,
    apigateway: Any,
    iam: Any,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
) -> None:
    # API Gateway would drop every log silently through a role that no longer exists
    _set_account_role(apigateway, "arn:aws:iam::123456789012:role/deleted-long-ago")
    answer = cloudformation_endpoint.ask(role_handler, lambda_context, "Create", ROLE, PROPERTIES)
    assert answer["Status"] == "SUCCESS", answer.get("Reason")
    assert answer["Data"]["SetByThisStack"] == "true"
    assert apigateway.get_account()["cloudwatchRoleArn"].endswith(f"role/{PROPERTIES['RoleName']}")


def test_a_second_stack_of_the_region_reuses_the_role(
    role_handler: Any,
    apigateway: Any,
    iam: Any,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
) -> None:
    # The account setting was cleared after an earlier stack created the role
    cloudformation_endpoint.ask(role_handler, lambda_context, "Create", ROLE, PROPERTIES)
    _set_account_role(apigateway, "")
    cloudformation_endpoint.ask(role_handler, lambda_context, "Create", ROLE, PROPERTIES)
    assert [answer["Status"] for answer in cloudformation_endpoint.responses] == ["SUCCESS", "SUCCESS"]
    assert len(iam.list_roles()["Roles"]) == 1
    assert apigateway.get_account()["cloudwatchRoleArn"].endswith(f"role/{PROPERTIES['RoleName']}")


def test_deleting_the_stack_leaves_the_role_and_the_setting(
    role_handler: Any,
    apigateway: Any,
    iam: Any,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
) -> None:
    cloudformation_endpoint.ask(role_handler, lambda_context, "Create", ROLE, PROPERTIES)
    set_role = apigateway.get_account()["cloudwatchRoleArn"]
    cloudformation_endpoint.ask(
        role_handler, lambda_context, "Delete", ROLE, PROPERTIES, physical_id=PHYSICAL_ID
    )
    assert cloudformation_endpoint.responses[-1]["Status"] == "SUCCESS"
    # Other APIs of the account may log through it
    assert apigateway.get_account()["cloudwatchRoleArn"] == set_role
    assert iam.get_role(RoleName=PROPERTIES["RoleName"])["Role"]["Arn"] == set_role


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        (PROPERTIES | {"RoleName": ""}, "missing properties: RoleName"),
        (PROPERTIES | {"ManagedPolicyArn": "arn:aws:iam::123456789012:policy/admin"}, "AWS managed policy"),
    ],
)
def test_bad_properties_fail_clearly(
    role_handler: Any,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
    properties: dict[str, str],
    reason: str,
) -> None:
    answer = cloudformation_endpoint.ask(role_handler, lambda_context, "Create", ROLE, properties)
    assert answer["Status"] == "FAILED"
    assert reason in answer["Reason"]
