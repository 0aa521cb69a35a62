"""The MSK Serverless topic custom resource, run through its real handler against a real Kafka broker."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from local.functions import load_handler
from tests.conftest import FakeLambdaContext
from tests.integration.conftest import CloudFormationEndpoint


@pytest.fixture
def provisioner(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("KAFKA_AUTH", "PLAINTEXT")
    return load_handler("topic_provisioner")


def _event(
    endpoint: CloudFormationEndpoint, request: str, topic: str, partitions: int, **extra: Any
) -> dict[str, Any]:
    properties = {"TopicName": topic, "Partitions": str(partitions), "ReplicationFactor": "-1", **extra}
    return endpoint.event(request, "Custom::KafkaTopic", properties, None if request == "Create" else topic)


def _partitions(bootstrap: str, topic: str) -> int | None:
    found = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics.get(topic)
    return None if found is None else len(found.partitions)


def test_create_makes_the_topic_and_reports_success(
    provisioner: Any,
    kafka_bootstrap: str,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
) -> None:
    topic = f"orders-{uuid.uuid4().hex[:8]}"
    # When CloudFormation asks to create the topic, twice (a retried request)
    provisioner.lambda_handler(_event(cloudformation_endpoint, "Create", topic, 4), lambda_context)
    provisioner.lambda_handler(_event(cloudformation_endpoint, "Create", topic, 4), lambda_context)
    # Then the topic exists with its partitions and both requests succeed with the topic as physical ID
    assert _partitions(kafka_bootstrap, topic) == 4
    assert [r["Status"] for r in cloudformation_endpoint.responses] == ["SUCCESS", "SUCCESS"]
    assert {r["PhysicalResourceId"] for r in cloudformation_endpoint.responses} == {topic}


def test_shrinking_is_refused_with_a_clear_reason(
    provisioner: Any,
    kafka_bootstrap: str,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
) -> None:
    topic = f"events-{uuid.uuid4().hex[:8]}"
    provisioner.lambda_handler(_event(cloudformation_endpoint, "Create", topic, 3), lambda_context)
    provisioner.lambda_handler(_event(cloudformation_endpoint, "Update", topic, 1), lambda_context)
    failed = cloudformation_endpoint.responses[-1]
    assert failed["Status"] == "FAILED"
    assert "cannot reduce them to 1" in failed["Reason"]
    assert _partitions(kafka_bootstrap, topic) == 3


def test_delete_keeps_the_data_unless_asked(
    provisioner: Any,
    kafka_bootstrap: str,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
) -> None:
    kept, dropped = f"kept-{uuid.uuid4().hex[:8]}", f"dropped-{uuid.uuid4().hex[:8]}"
    provisioner.lambda_handler(_event(cloudformation_endpoint, "Create", kept, 1), lambda_context)
    provisioner.lambda_handler(
        _event(cloudformation_endpoint, "Create", dropped, 1, DeleteOnStackDelete="true"), lambda_context
    )

    provisioner.lambda_handler(_event(cloudformation_endpoint, "Delete", kept, 1), lambda_context)
    provisioner.lambda_handler(
        _event(cloudformation_endpoint, "Delete", dropped, 1, DeleteOnStackDelete="true"), lambda_context
    )
    # Deleting again (CloudFormation retries) still succeeds
    provisioner.lambda_handler(
        _event(cloudformation_endpoint, "Delete", dropped, 1, DeleteOnStackDelete="true"), lambda_context
    )

    assert _partitions(kafka_bootstrap, kept) == 1
    assert _partitions(kafka_bootstrap, dropped) is None
    assert [r["Status"] for r in cloudformation_endpoint.responses] == ["SUCCESS"] * 5


def test_invalid_properties_fail_the_resource(
    provisioner: Any,
    cloudformation_endpoint: CloudFormationEndpoint,
    lambda_context: FakeLambdaContext,
) -> None:
    provisioner.lambda_handler(_event(cloudformation_endpoint, "Create", "bad", 0), lambda_context)
    assert cloudformation_endpoint.responses[-1]["Status"] == "FAILED"
    assert "Partitions must be at least 1" in cloudformation_endpoint.responses[-1]["Reason"]
