"""IAM propagation: API Gateway refuses a just-created role for a few seconds. moto never does, so these
answers come from botocore's Stubber, which checks requests and responses against the service model."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from account_role import AccountRoleError, ensure_cloudwatch_role
from streaming_common.aws_clients import client

ROLE = "arn:aws:iam::123456789012:role/stack-ApiGatewayCloudWatchRole-1"
NOT_YET = "The role ARN does not have required permissions set to API Gateway"
PATCH = {"patchOperations": [{"op": "replace", "path": "/cloudwatchRoleArn", "value": ROLE}]}


def test_retries_while_the_new_role_propagates() -> None:
    sleeps: list[float] = []
    with Stubber(client("apigateway")) as stub:
        stub.add_response("get_account", {})
        stub.add_client_error("update_account", "BadRequestException", NOT_YET, 400, expected_params=PATCH)
        stub.add_client_error("update_account", "BadRequestException", NOT_YET, 400, expected_params=PATCH)
        stub.add_response("update_account", {"cloudwatchRoleArn": ROLE}, PATCH)
        outcome = ensure_cloudwatch_role(ROLE, seconds_left=lambda: 100.0, sleep=sleeps.append)
        stub.assert_no_pending_responses()
    assert (outcome.role_arn, outcome.set_now) == (ROLE, True)
    assert sleeps == [5.0, 5.0]


def test_gives_up_before_the_deadline_with_the_reason() -> None:
    with Stubber(client("apigateway")) as stub:
        stub.add_response("get_account", {})
        stub.add_client_error("update_account", "BadRequestException", NOT_YET, 400, expected_params=PATCH)
        with pytest.raises(AccountRoleError, match=r"did not accept .* as its CloudWatch Logs role"):
            ensure_cloudwatch_role(ROLE, seconds_left=lambda: 1.0, sleep=lambda _: None)


def test_other_errors_are_not_retried() -> None:
    with Stubber(client("apigateway")) as stub:
        stub.add_response("get_account", {})
        stub.add_client_error(
            "update_account", "AccessDeniedException", "not allowed", 403, expected_params=PATCH
        )
        with pytest.raises(AccountRoleError, match="not allowed"):
            ensure_cloudwatch_role(ROLE, seconds_left=lambda: 100.0, sleep=lambda _: pytest.fail("retried"))
