"""CloudFormation custom resource: the solution's topic on MSK Serverless."""

from __future__ import annotations

from functools import cache
from typing import Any

from confluent_kafka.admin import AdminClient

import topic_admin
from streaming_common.custom_resource import CustomResource
from streaming_common.kafka_config import client_config
from streaming_common.observability import logger
from streaming_common.settings import KafkaSettings, load_settings

helper = CustomResource()


@cache
def admin_client(settings: KafkaSettings) -> AdminClient:
    """One admin client per container; poll once so an IAM token is fetched before the first request."""
    admin = AdminClient(client_config(settings))
    admin.poll(0)
    return admin


@helper.create
@helper.update
def create_or_update(event: dict[str, Any], _context: Any) -> str:
    admin = admin_client(load_settings(KafkaSettings))
    return topic_admin.ensure_topic(admin, topic_admin.spec_from_properties(event["ResourceProperties"]))


@helper.delete
def delete(event: dict[str, Any], _context: Any) -> None:
    if event.get("PhysicalResourceId") != event["ResourceProperties"].get("TopicName"):
        return  # creation failed before any topic existed: nothing to delete
    admin = admin_client(load_settings(KafkaSettings))
    topic_admin.delete_topic(admin, topic_admin.spec_from_properties(event["ResourceProperties"]))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> None:
    helper(event, context)
