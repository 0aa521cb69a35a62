"""CloudFormation custom resource: API Gateway's account-level CloudWatch Logs role, created and set only
when the account and region have none; never overwritten, unset or deleted (docs/decisions.md, D1)."""

from __future__ import annotations

from typing import Any

from account_role import RoleRequest, ensure_cloudwatch_role
from streaming_common.custom_resource import CustomResource
from streaming_common.observability import logger

helper = CustomResource()
# Leave this much of the invocation to answer CloudFormation after the last attempt.
ANSWER_MARGIN_MS = 20_000


@helper.create
@helper.update
def set_if_missing(event: dict[str, Any], context: Any) -> str:
    outcome = ensure_cloudwatch_role(
        RoleRequest.from_properties(event["ResourceProperties"]),
        seconds_left=lambda: (context.get_remaining_time_in_millis() - ANSWER_MARGIN_MS) / 1000,
    )
    helper.Data.update({"RoleArn": outcome.role_arn, "SetByThisStack": str(outcome.set_now).lower()})
    return "api-gateway-account-cloudwatch-role"


@helper.delete
def keep(_event: dict[str, Any], _context: Any) -> None:
    """Other APIs of the account may log through the role: the role and the setting stay."""


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> None:
    helper(event, context)
