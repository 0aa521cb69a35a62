"""Give API Gateway a CloudWatch Logs role for the account and region when it has none.

A REST API stage with access logging fails to deploy where the account has no such role ("CloudWatch Logs
role ARN must be set in account settings to enable logging"). AWS::ApiGateway::Account would overwrite a role
the account already uses, and a role per stack would pile up (it must outlive the stack, since every API of
the account logs through it). So the role is created here, once per account and region under a fixed name,
only when the account has no role; it is never unset or deleted. IAM needs a few seconds to make a new role
usable by API Gateway, so a refusal is retried until the deadline.
"""

from __future__ import annotations

import json
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
class RoleRequest:
    """The role to create if the account has none: its name and the managed policy it gets."""

    role_name: str
    managed_policy_arn: str

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> RoleRequest:
        """Read and check RoleName and ManagedPolicyArn."""
        values = {key: properties.get(key) for key in ("RoleName", "ManagedPolicyArn")}
        missing = [key for key, value in values.items() if not isinstance(value, str) or not value]
        if missing:
            raise AccountRoleError(f"missing properties: {', '.join(missing)}")
        if ":iam::aws:policy/" not in str(values["ManagedPolicyArn"]):
            raise AccountRoleError(
                f"ManagedPolicyArn must be an AWS managed policy, got {values['ManagedPolicyArn']}"
            )
        return cls(str(values["RoleName"]), str(values["ManagedPolicyArn"]))

    def trust_policy(self) -> str:
        """Only API Gateway may assume the role: AWS's documented trust policy for it, with no condition
        (API Gateway is not documented to send aws:SourceAccount when it checks the role)."""
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "apigateway.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        )


@dataclass(frozen=True, slots=True)
class AccountRole:
    """The role in effect after the call, and whether this call set it."""

    role_arn: str
    set_now: bool


def _role_arn(request: RoleRequest) -> str:
    """Create the role, or find it if an earlier stack of this account and region created it."""
    iam = client("iam")
    try:
        role = iam.create_role(
            RoleName=request.role_name,
            AssumeRolePolicyDocument=request.trust_policy(),
            Description="API Gateway pushes the account's REST API logs to CloudWatch Logs",
        )["Role"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
        role = iam.get_role(RoleName=request.role_name)["Role"]
    iam.attach_role_policy(RoleName=request.role_name, PolicyArn=request.managed_policy_arn)
    return str(role["Arn"])


def _existing_role(role_arn: str | None) -> str | None:
    """The account's role if it is set and still exists: a setting can outlive its role, and API Gateway
    then drops every log silently."""
    if not role_arn:
        return None
    try:
        client("iam").get_role(RoleName=role_arn.rpartition("/")[2])
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
        logger.warning(
            "the account's API Gateway CloudWatch role no longer exists: replaced", extra={"role": role_arn}
        )
        return None
    return role_arn


def ensure_cloudwatch_role(
    request: RoleRequest, *, seconds_left: Callable[[], float], sleep: Callable[[float], None] = time.sleep
) -> AccountRole:
    """Keep the account's role if it has one; else create ours and set it, retrying while IAM propagates."""
    apigateway = client("apigateway")
    current = _existing_role(apigateway.get_account().get("cloudwatchRoleArn"))
    if current:
        logger.info("the account already has an API Gateway CloudWatch role: kept", extra={"role": current})
        return AccountRole(current, set_now=False)
    role_arn = _role_arn(request)
    operation = {"op": "replace", "path": "/cloudwatchRoleArn", "value": role_arn}
    while True:
        try:
            apigateway.update_account(patchOperations=[operation])
        except ClientError as error:
            # BadRequestException is API Gateway's answer while IAM has not yet propagated a new role.
            retriable = error.response["Error"]["Code"] == "BadRequestException"
            if not retriable or seconds_left() < RETRY_INTERVAL_SECONDS:
                raise AccountRoleError(
                    f"API Gateway did not accept {role_arn} as its CloudWatch Logs role: {error}"
                ) from error
            logger.info("role not usable by API Gateway yet (IAM propagation): retrying")
            sleep(RETRY_INTERVAL_SECONDS)
            continue
        logger.info("set the account's API Gateway CloudWatch role", extra={"role": role_arn})
        return AccountRole(role_arn, set_now=True)
