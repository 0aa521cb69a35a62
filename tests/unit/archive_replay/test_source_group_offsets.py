"""Reading a source group's committed offsets: an error on a partition is an error, never an empty answer
(Kafka leaves out, without an error, the topics a caller may not describe when asked for all of a group's
offsets; asked for explicit partitions, it answers each one with its error)."""

from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, TopicPartition

from offset_translation import OffsetTranslationError, source_group_offsets


class AnsweringAdmin:
    """An AdminClient's list_consumer_group_offsets with the broker's answer given."""

    def __init__(self, answer: list[TopicPartition]) -> None:
        self.answer = answer
        self.asked: list[ConsumerGroupTopicPartitions] = []

    def list_consumer_group_offsets(self, requests: list[ConsumerGroupTopicPartitions]) -> dict[str, Any]:
        self.asked.extend(requests)
        future: Future[ConsumerGroupTopicPartitions] = Future()
        future.set_result(ConsumerGroupTopicPartitions(requests[0].group_id, self.answer))
        return {requests[0].group_id: future}


def test_the_replayed_partitions_are_asked_for_by_name() -> None:
    admin = AnsweringAdmin([TopicPartition("orders", 0, 15), TopicPartition("orders", 1, -1001)])

    offsets = source_group_offsets(admin, "billing", "orders", [0, 1])  # type: ignore[arg-type]

    assert offsets == {0: 15}  # partition 1 has no committed offset
    (asked,) = admin.asked
    named = [(entry.topic, entry.partition) for entry in asked.topic_partitions]
    assert named == [("orders", 0), ("orders", 1)]


def test_a_partition_answered_with_an_error_stops_the_translation() -> None:
    # confluent-kafka's TopicPartition.error is read-only: the broker's answer for partition 1, as it reads
    refused = SimpleNamespace(
        topic="orders", partition=1, offset=-1001, error=KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)
    )
    admin = AnsweringAdmin([TopicPartition("orders", 0, 15), refused])  # type: ignore[list-item]

    with pytest.raises(OffsetTranslationError, match=r"orders\[1\].*DescribeTopic"):
        source_group_offsets(admin, "billing", "orders", [0, 1])  # type: ignore[arg-type]
