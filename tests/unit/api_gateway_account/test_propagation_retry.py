"""IAM propagation: API Gateway refuses a just-created role for a few seconds. moto never does, so API
Gateway's answers come from botocore's Stubber, which checks requests and responses against the service
model; IAM is moto's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.stub import Stubber
from moto import mock_aws

from account_role import AccountRoleError, RoleRequest, ensure_cloudwatch_role
from streaming_common.aws_clients import client

REQUEST = RoleRequest(
    "apigateway-cloudwatch-logs-us-east-1",
    "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
)
ROLE = "arn:aws:iam::123456789012:role/apigateway-cloudwatch-logs-us-east-1"
NOT_YET = "The role ARN does not have required permissions set to API Gateway"
PATCH = {"patchOperations": [{"op": "replace", "path": "/cloudwatchRoleArn", "value": ROLE}]}


@pytest.fixture
def apigateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")  # AWS managed policies, as in every account
    with mock_aws(), Stubber(client("apigateway")) as stub:
        stub.add_response("get_account", {})
        yield stub


def test_retries_while_the_new_role_propagates(apigateway: Stubber) -> None:
    sleeps: list[float] = []
    apigateway.add_client_error("update_account", "BadRequestException", NOT_YET, 400, expected_params=PATCH)
    apigateway.add_client_error("update_account", "BadRequestException", NOT_YET, 400, expected_params=PATCH)
    apigateway.add_response("update_account", {"cloudwatchRoleArn": ROLE}, PATCH)
    outcome = ensure_cloudwatch_role(REQUEST, seconds_left=lambda: 100.0, sleep=sleeps.append)
    apigateway.assert_no_pending_responses()
    assert (outcome.role_arn, outcome.set_now) == (ROLE, True)
    assert sleeps == [5.0, 5.0]


def test_gives_up_before_the_deadline_with_the_reason(apigateway: Stubber) -> None:
    apigateway.add_client_error("update_account", "BadRequestException", NOT_YET, 400, expected_params=PATCH)
    with pytest.raises(AccountRoleError, match=r"did not accept .* as its CloudWatch Logs role"):
        ensure_cloudwatch_role(REQUEST, seconds_left=lambda: 1.0, sleep=lambda _: None)


def test_other_errors_are_not_retried(apigateway: Stubber) -> None:
    apigateway.add_client_error(
        "update_account", "AccessDeniedException", "not allowed", 403, expected_params=PATCH
    )
    with pytest.raises(AccountRoleError, match="not allowed"):
        ensure_cloudwatch_role(REQUEST, seconds_left=lambda: 100.0, sleep=lambda _: pytest.fail("retried"))
