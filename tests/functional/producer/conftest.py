"""The producer handler with a scripted fake producer that records what would reach Kafka (the integration
tier does the same against a real broker)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import KafkaError

from local.functions import load_handler


class FakeMessage:
    def __init__(self, partition: int, offset: int) -> None:
        self._partition, self._offset = partition, offset

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset


class ScriptedProducer:
    """Records every produce call; on flush answers each record with what `answer(index)` says."""

    def __init__(self, answer: Callable[[int], KafkaError | None]) -> None:
        self.answer = answer
        self.produced: list[dict[str, Any]] = []
        self._callbacks: list[Any] = []

    def produce(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list[Any], on_delivery: Any
    ) -> None:
        for name, _ in headers:  # librdkafka crashes on a name that is not UTF-8 and cuts it at a NUL
            assert b"\x00" not in name.encode("utf-8"), f"header name {name!r} would be cut short"
        self.produced.append({"topic": topic, "key": key, "value": value, "headers": headers})
        self._callbacks.append(on_delivery)

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        for index, callback in enumerate(self._callbacks):
            error = self.answer(index)
            callback(error, None if error else FakeMessage(index % 3, 100 + index))
        self._callbacks.clear()
        return 0


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("KAFKA_AUTH", "PLAINTEXT")
    monkeypatch.setenv("ALLOWED_TOPICS", "streaming-events, other-topic")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "producer")
    module = load_handler("producer")
    import record_producer

    real_producer = record_producer.producer
    real_producer.cache_clear()
    yield module
    real_producer.cache_clear()


def use_producer[Fake: ScriptedProducer](monkeypatch: pytest.MonkeyPatch, fake: Fake) -> Fake:
    """Make `fake` the container's producer."""
    import record_producer

    monkeypatch.setattr(record_producer, "producer", lambda settings: fake)
    return fake
