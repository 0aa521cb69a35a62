"""CloudFormation custom resources of the Managed Flink application: Custom::FlinkApplicationCode uploads the
application's code (application.zip, packaged beside this file by `make flink-package`), and
Custom::FlinkApplicationRun starts the application and stops it with a snapshot before deletion."""

from __future__ import annotations

from typing import Any

from flink_deployment import (
    CODE_RESOURCE,
    RUN_RESOURCE,
    CodeRequest,
    DeployerSettings,
    DeploymentError,
    RunRequest,
    SecondsLeft,
    ensure_running,
    stop_with_snapshot,
    upload_code,
)
from streaming_common.custom_resource import CustomResource
from streaming_common.observability import logger
from streaming_common.settings import load_settings

helper = CustomResource()


def _seconds_left(context: Any, settings: DeployerSettings) -> SecondsLeft:
    return lambda: context.get_remaining_time_in_millis() / 1000 - settings.reply_reserve_seconds


@helper.create
@helper.update
def deploy(event: dict[str, Any], context: Any) -> str:
    settings = load_settings(DeployerSettings)
    properties = event["ResourceProperties"]
    if event["ResourceType"] == CODE_RESOURCE:
        code = upload_code(CodeRequest.from_properties(properties), settings.application_zip)
        helper.Data.update(code.attributes())
        return code.physical_id
    if event["ResourceType"] == RUN_RESOURCE:
        request = RunRequest.from_properties(properties)
        helper.Data["Status"] = ensure_running(
            request, _seconds_left(context, settings), settings.poll_seconds
        )
        return request.application_name
    raise DeploymentError(f"unknown resource type {event['ResourceType']}: {CODE_RESOURCE} or {RUN_RESOURCE}")


@helper.delete
def delete(event: dict[str, Any], context: Any) -> None:
    """The code stays in its bucket (an application may still point at it); the application is stopped with
    a snapshot. Properties that could not have started anything (a failed create's) need nothing."""
    if event["ResourceType"] != RUN_RESOURCE:
        return
    settings = load_settings(DeployerSettings)
    try:
        request = RunRequest.from_properties(event["ResourceProperties"])
    except DeploymentError as error:
        logger.warning(
            "properties no request could start with: nothing to stop", extra={"reason": str(error)}
        )
        return
    stop_with_snapshot(request, _seconds_left(context, settings), settings.poll_seconds)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> None:
    helper(event, context)
