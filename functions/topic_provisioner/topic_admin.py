"""Create, grow and delete a Kafka topic through the Kafka admin API (for MSK Serverless, which has no
topic API of its own). Every change is idempotent, because CloudFormation may send an event twice."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # exported at run time, not in the stubs
    AdminClient,
    NewPartitions,
    NewTopic,
)

from streaming_common.observability import logger

ADMIN_TIMEOUT_SECONDS = 60.0


class TopicRequestError(ValueError):
    """The custom resource's properties ask for something Kafka cannot do."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """What the stack asks for: name, partitions, replication (-1 = the cluster's default) and configs."""

    name: str
    partitions: int
    replication_factor: int = -1
    configs: Mapping[str, str] | None = None
    delete_on_stack_delete: bool = False


def _as_int(properties: Mapping[str, Any], name: str, default: int | None = None) -> int:
    raw = properties.get(name, default)
    try:
        return int(raw)  # CloudFormation passes every property as a string
    except (TypeError, ValueError):
        raise TopicRequestError(f"{name} must be an integer, got {raw!r}") from None


def spec_from_properties(properties: Mapping[str, Any]) -> TopicSpec:
    """Read and check the custom resource's ResourceProperties."""
    name = properties.get("TopicName")
    if not isinstance(name, str) or not name:
        raise TopicRequestError("TopicName is required")
    partitions = _as_int(properties, "Partitions")
    if partitions < 1:
        raise TopicRequestError(f"Partitions must be at least 1, got {partitions}")
    replication = _as_int(properties, "ReplicationFactor", -1)
    if replication == 0 or replication < -1:
        raise TopicRequestError(
            f"ReplicationFactor must be -1 (cluster default) or at least 1, got {replication}"
        )
    configs = properties.get("Configs") or {}
    if not isinstance(configs, Mapping):
        raise TopicRequestError("Configs must be a map of Kafka topic settings")
    delete = str(properties.get("DeleteOnStackDelete", "false")).lower() == "true"
    return TopicSpec(name, partitions, replication, {str(k): str(v) for k, v in configs.items()}, delete)


def _partition_count(admin: AdminClient, topic: str) -> int | None:
    metadata = admin.list_topics(timeout=ADMIN_TIMEOUT_SECONDS)
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        return None
    return len(found.partitions)


def _wait(futures: Mapping[str, Any], ignore: frozenset[int] = frozenset()) -> None:
    for future in futures.values():
        try:
            future.result(timeout=ADMIN_TIMEOUT_SECONDS)
        except KafkaException as error:
            if error.args[0].code() not in ignore:
                raise


def ensure_topic(admin: AdminClient, spec: TopicSpec) -> str:
    """Create the topic, or grow it to `spec.partitions`; return the topic name (the physical ID)."""
    current = _partition_count(admin, spec.name)
    if current is None:
        logger.info("creating topic", extra={"topic": spec.name, "partitions": spec.partitions})
        new_topic = NewTopic(
            spec.name,
            num_partitions=spec.partitions,
            replication_factor=spec.replication_factor,
            config=dict(spec.configs or {}),
        )
        _wait(
            admin.create_topics([new_topic], request_timeout=ADMIN_TIMEOUT_SECONDS),
            ignore=frozenset({KafkaError.TOPIC_ALREADY_EXISTS}),
        )
    elif current < spec.partitions:
        logger.info("adding partitions", extra={"topic": spec.name, "from": current, "to": spec.partitions})
        _wait(admin.create_partitions([NewPartitions(spec.name, spec.partitions)]))
    elif current > spec.partitions:
        raise TopicRequestError(
            f"topic {spec.name} has {current} partitions; Kafka cannot reduce them to {spec.partitions}"
        )
    return spec.name


def delete_topic(admin: AdminClient, spec: TopicSpec) -> None:
    """Delete the topic if the stack asked for it; by default the data is kept."""
    if not spec.delete_on_stack_delete:
        logger.info("keeping topic (DeleteOnStackDelete is false)", extra={"topic": spec.name})
        return
    _wait(
        admin.delete_topics([spec.name], request_timeout=ADMIN_TIMEOUT_SECONDS),
        ignore=frozenset({KafkaError.UNKNOWN_TOPIC_OR_PART}),
    )
