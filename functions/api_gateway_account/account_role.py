"""Set API Gateway's CloudWatch Logs role for the account and region when none is set.

A REST API stage with access logging fails to deploy where the account has no such role ("CloudWatch Logs
role ARN must be set in account settings to enable logging"). AWS::ApiGateway::Account would overwrite a role
the account already uses; this only fills the gap. IAM needs a few seconds to make a new role usable by API
Gateway, so a refusal naming the role's permissions is retried until the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from streaming_common.aws_clients import client
from streaming_common.observability import logger

RETRY_INTERVAL_SECONDS = 5.0


class AccountRoleError(RuntimeError):
    """The role could not be set."""


@dataclass(frozen=True, slots=True)
class AccountRole:
    """The role in effect after the call, and whether this call set it."""

    role_arn: str
    set_now: bool


def role_from_properties(properties: Mapping[str, Any]) -> str:
    """The custom resource's RoleArn property, checked."""
    role_arn = properties.get("RoleArn")
    if not isinstance(role_arn, str) or ":iam::" not in role_arn or ":role/" not in role_arn:
        raise AccountRoleError(f"RoleArn must be an IAM role ARN, got {role_arn!r}")
    return role_arn


def _not_usable_yet(error: ClientError) -> bool:
    """API Gateway's answer while IAM has not yet propagated a new role."""
    return error.response["Error"]["Code"] == "BadRequestException"


def ensure_cloudwatch_role(
    role_arn: str, *, seconds_left: Callable[[], float], sleep: Callable[[float], None] = time.sleep
) -> AccountRole:
    """Keep the account's role if it has one; otherwise set `role_arn`, retrying while IAM propagates."""
    apigateway = client("apigateway")
    current = apigateway.get_account().get("cloudwatchRoleArn")
    if current:
        logger.info("the account already has an API Gateway CloudWatch role: kept", extra={"role": current})
        return AccountRole(current, set_now=False)
    operation = {"op": "replace", "path": "/cloudwatchRoleArn", "value": role_arn}
    while True:
        try:
            apigateway.update_account(patchOperations=[operation])
        except ClientError as error:
            if not _not_usable_yet(error) or seconds_left() < RETRY_INTERVAL_SECONDS:
                raise AccountRoleError(
                    f"API Gateway did not accept {role_arn} as its CloudWatch Logs role: {error}"
                ) from error
            logger.info("role not usable by API Gateway yet (IAM propagation): retrying")
            sleep(RETRY_INTERVAL_SECONDS)
            continue
        logger.info("set the account's API Gateway CloudWatch role", extra={"role": role_arn})
        return AccountRole(role_arn, set_now=True)
