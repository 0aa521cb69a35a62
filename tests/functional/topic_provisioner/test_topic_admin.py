"""topic_admin paths the local broker cannot serve (Tansu has no CreatePartitions), with a recording admin."""

from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any

import pytest

import topic_admin
from topic_admin import TopicRequestError, TopicSpec, spec_from_properties


class RecordingAdmin:
    """Answers list_topics from a dict and records every change request."""

    def __init__(self, partitions: dict[str, int]) -> None:
        self.partitions = partitions
        self.calls: list[tuple[str, Any]] = []

    def list_topics(self, timeout: float) -> Any:
        topics = {
            name: SimpleNamespace(error=None, partitions=dict.fromkeys(range(n)))
            for name, n in self.partitions.items()
        }
        return SimpleNamespace(topics=topics)

    def _done(self, names: list[str]) -> dict[str, Future[None]]:
        futures = {}
        for name in names:
            future: Future[None] = Future()
            future.set_result(None)
            futures[name] = future
        return futures

    def create_partitions(self, requests: list[Any]) -> dict[str, Future[None]]:
        self.calls.append(("create_partitions", [(r.topic, r.new_total_count) for r in requests]))
        return self._done([r.topic for r in requests])


def test_growing_the_topic_adds_partitions() -> None:
    admin = RecordingAdmin({"orders": 3})
    assert topic_admin.ensure_topic(admin, TopicSpec("orders", 6)) == "orders"  # type: ignore[arg-type]
    assert admin.calls == [("create_partitions", [("orders", 6)])]


def test_same_partition_count_changes_nothing() -> None:
    admin = RecordingAdmin({"orders": 6})
    topic_admin.ensure_topic(admin, TopicSpec("orders", 6))  # type: ignore[arg-type]
    assert admin.calls == []


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"Partitions": "3"}, "TopicName is required"),
        ({"TopicName": "t", "Partitions": "three"}, "Partitions must be an integer"),
        ({"TopicName": "t", "Partitions": "3", "ReplicationFactor": "0"}, "ReplicationFactor must be"),
        ({"TopicName": "t", "Partitions": "3", "Configs": "retention.ms=1"}, "Configs must be a map"),
    ],
)
def test_bad_properties_are_named(properties: dict[str, str], message: str) -> None:
    with pytest.raises(TopicRequestError, match=message):
        spec_from_properties(properties)


def test_properties_as_cloudformation_sends_them() -> None:
    spec = spec_from_properties(
        {
            "TopicName": "t",
            "Partitions": "12",
            "ReplicationFactor": "-1",
            "Configs": {"retention.ms": 86400000},
            "DeleteOnStackDelete": "True",
        }
    )
    assert spec == TopicSpec("t", 12, -1, {"retention.ms": "86400000"}, delete_on_stack_delete=True)
